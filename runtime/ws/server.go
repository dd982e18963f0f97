package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/diag"
	"github.com/taskbridge-go/taskbridge/runtime/internal/track"
)

// Server serves WebSocket task streams over a hub. Create it with New; its
// methods are safe for concurrent use.
type Server struct {
	hub      *hub.Hub
	cfg      Settings
	log      *slog.Logger
	upgrader websocket.Upgrader

	sessions track.Set[*session]
}

// writeBuffers lends the WebSocket library its write buffer for the length
// of one message, so an idle connection holds none.
var writeBuffers sync.Pool

// readBufferSize is the read buffer of a connection. A client sends small
// frames (a subscribe, a ping), so the HTTP server's 4 KiB reader is not
// kept: a longer frame takes a few reads.
const readBufferSize = 512

// New returns a Server that follows tasks through h. Zero fields of s take
// their defaults; a nil logger discards its output. The hub must be running
// (h.Run) for live events to arrive; when it closes, every session closes
// with 1001.
func New(h *hub.Hub, s Settings, logger *slog.Logger) *Server {
	cfg := s.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = taskbridge.NopMetrics{}
	}
	cfg.Diagnostics = diag.With(diag.Sink(cfg.Diagnostics, logger), cfg.Metrics)
	return &Server{
		hub: h,
		cfg: cfg,
		log: logger,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: cfg.WriteTimeout,
			CheckOrigin:      cfg.CheckOrigin,
			ReadBufferSize:   readBufferSize,
			WriteBufferPool:  &writeBuffers,
		},
	}
}

// WebSocket returns the response that upgrades the request and serves one
// subscription for the caller p: it checks the subscribed task with open,
// which must answer taskbridge.ErrTaskNotFound (wrapped) for a task that is
// missing or not p's, and may answer taskbridge.ErrTooManyRequests for a
// caller over its limit of streams (both close with 1008). done, when not
// nil, is called once the session has ended, after ServeStream returned
// (see the package doc). ctx is not kept. *Server thus implements the
// services' WebSocket port (services.WebSocketStreams) without importing
// it.
func (s *Server) WebSocket(ctx context.Context, p taskbridge.Principal, open func(ctx context.Context, taskID string) (taskbridge.Task, error), done func()) gen.StreamResponse {
	if done == nil {
		done = func() {}
	}
	return &stream{srv: s, p: p, open: open, done: done}
}

// stream is the gen.StreamResponse of one WebSocket request.
type stream struct {
	srv  *Server
	p    taskbridge.Principal
	open func(ctx context.Context, taskID string) (taskbridge.Task, error)
	done func()
}

// ServeStream upgrades the request and hands the session to a goroutine of
// its own, so that the request's goroutine and the HTTP server's buffers
// go. It returns an error only when the upgrade fails, after the WebSocket
// library has answered the request with an HTTP error; how the session
// ended is told to the diagnostics, not returned, since the connection no
// longer speaks HTTP. The session keeps the request context's values, not
// its cancellation.
func (st *stream) ServeStream(w http.ResponseWriter, r *http.Request) error {
	s := st.srv
	hj := &hijacker{ResponseWriter: w, timeout: s.cfg.WriteTimeout}
	conn, err := s.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		st.done()
		return fmt.Errorf("ws: upgrade: %w", err)
	}
	ss := s.newSession(context.WithoutCancel(r.Context()), conn, hj.conn, st.p, st.open, st.done)
	if !s.sessions.Add(ss) {
		// Shut down: tell the client to resume elsewhere.
		msg := websocket.FormatCloseMessage(gen.CloseGoingAway, reasonShutdown)
		_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.cfg.WriteTimeout))
		_ = conn.Close()
		ss.cancel(nil)
		st.done()
		return nil
	}
	go ss.run()
	return nil
}

// errShutdown is the cause with which Shutdown cancels a session.
var errShutdown = errors.New("ws: server shutting down")

// Shutdown closes every open session with 1001 (going away) and waits until
// their goroutines have ended, or until ctx ends: then it closes the
// remaining connections at once and returns ctx's error. A connection that
// arrives afterwards is closed with 1001 right after its upgrade. Shutdown
// is idempotent and safe to call concurrently; http.Server.Shutdown does not
// wait for hijacked connections, so a host calls both (for example through
// http.Server.RegisterOnShutdown).
func (s *Server) Shutdown(ctx context.Context) error {
	return s.sessions.Shutdown(ctx,
		func(ss *session) { ss.cancel(errShutdown) },
		func(ss *session) { _ = ss.conn.Close() })
}
