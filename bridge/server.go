package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// Defaults of the HTTP server settings.
const (
	DefaultReadHeaderTimeout       = 10 * time.Second
	DefaultBodyReadTimeout         = 10 * time.Second
	DefaultIdleTimeout             = 60 * time.Second
	DefaultMaxConnectionsPerClient = 1024
)

// ListenAndServe listens on addr, logs where, and Serves handler there
// until ctx ends or the process gets SIGINT or SIGTERM, which then shut
// it down gracefully instead of killing it. It is the whole lifecycle of a
// small host; a host that handles signals itself calls Serve.
func (b *Bridge) ListenAndServe(ctx context.Context, addr string, handler http.Handler) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	b.log.LogAttrs(ctx, slog.LevelInfo, "listening", slog.String("addr", "http://"+l.Addr().String()))
	return b.Serve(ctx, l, handler)
}

// Serve is Run with an HTTP server of its own: it serves handler (the
// host's router, on which Mount put the API) on l, through Server and
// Listener, and runs the bridge until ctx ends; then it shuts down the
// bridge and the server, in that order, within Config.ShutdownTimeout, and
// returns nil after a clean shutdown. Over a store of this process it
// accepts requests once the bridge follows the store's appends, so that
// /ready holds from the first request; over a shared store it accepts at
// once, and /ready tells when the database is there. A host that runs its
// own http.Server calls Run and Shutdown instead, and may take Server's
// settings and Listener's caps.
func (b *Bridge) Serve(ctx context.Context, l net.Listener, handler http.Handler) error {
	server := b.Server(handler)
	ran := make(chan error, 1)
	go func() { ran <- b.Run(ctx) }() // ends with b.Shutdown below
	if s, ok := b.store.(taskbridge.SharedStore); !ok || !s.Shared() {
		select {
		case <-b.Live():
		case <-b.hub.Done(): // the hub stopped before it watched: /ready tells
		case <-ctx.Done():
		}
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(b.Listener(l)) }() // ends with server.Shutdown below
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-served:
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.ShutdownTimeout)
	defer cancel()
	errs := []error{failed, b.Shutdown(stopCtx)}
	if err := server.Shutdown(stopCtx); err != nil {
		_ = server.Close() // cut what is left; its clients resume elsewhere by cursor
		errs = append(errs, fmt.Errorf("http server: %w", err))
	}
	if err := <-ran; err != nil && !errors.Is(err, ctx.Err()) {
		errs = append(errs, err)
	}
	if failed == nil {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Server returns an http.Server for handler with the settings of
// Config.HTTP: headers are read within ReadHeaderTimeout, and a keep-alive
// connection that waits longer than IdleTimeout for its next request is
// closed. It sets no ReadTimeout or WriteTimeout, which would cut streams:
// a stalled request body is cut by the API's own BodyReadTimeout, and a
// stream's writes have deadlines of their own.
func (b *Bridge) Server(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: b.cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       b.cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
}

// Listener wraps l with the connection caps of Config.HTTP: past
// MaxConnections open connections in all, or MaxConnectionsPerClient from
// one client address, a new connection is closed as soon as it is
// accepted, so that the process never runs out of file descriptors and the
// connections it holds (streams, /health) keep working.
func (b *Bridge) Listener(l net.Listener) net.Listener {
	c := b.cfg.HTTP
	if c.MaxConnections < 0 && c.MaxConnectionsPerClient < 0 {
		return l
	}
	return &limitListener{Listener: l, max: c.MaxConnections, perClient: c.MaxConnectionsPerClient, byClient: map[string]int{}, log: b.log}
}

// defaultMaxConnections leaves a twentieth of the process's open-file
// limit (at least 128 descriptors) to the store's connections and files.
func defaultMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 || rl.Cur > 1<<31 {
		return -1 // unknown or unlimited: no cap of our own
	}
	limit := int(rl.Cur)
	return max(limit-max(limit/20, 128), 1)
}

// limitListener caps the open connections of a listener, in all and per
// client address (a cap of 0 or less is none).
type limitListener struct {
	net.Listener
	max, perClient int
	log            *slog.Logger

	mu       sync.Mutex
	open     int
	byClient map[string]int
}

// Accept returns the next connection within the caps, closing those over
// them at once.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := clientAddress(c.RemoteAddr())
		if l.admit(client) {
			return &limitedConn{Conn: c, l: l, client: client}, nil
		}
		_ = c.Close()
	}
}

func (l *limitListener) admit(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	over := l.max > 0 && l.open >= l.max
	overClient := l.perClient > 0 && l.byClient[client] >= l.perClient
	if over || overClient {
		if l.log.Enabled(context.Background(), slog.LevelDebug) {
			l.log.LogAttrs(context.Background(), slog.LevelDebug, "connection refused: over the cap",
				slog.String("client", client), slog.Int("open", l.open), slog.Int("fromClient", l.byClient[client]))
		}
		return false
	}
	l.open++
	l.byClient[client]++
	return true
}

func (l *limitListener) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byClient[client]--; l.byClient[client] <= 0 {
		delete(l.byClient, client)
	}
}

// clientAddress is the host part of a remote address.
func clientAddress(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn gives its place back when it is closed, once.
type limitedConn struct {
	net.Conn
	l      *limitListener
	client string
	once   sync.Once
}

// WriteBuffers writes bufs with one vectored system call, as net.Buffers
// does for the connection it wraps (gather.Writer): a batch of WebSocket
// frames, or an SSE chunk and its framing, stays one system call through
// the wrapper.
func (c *limitedConn) WriteBuffers(bufs *net.Buffers) (int64, error) { return bufs.WriteTo(c.Conn) }

// Close closes the connection and gives its place back.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.client) })
	return err
}
