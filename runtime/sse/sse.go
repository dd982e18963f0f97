// Package sse serves a task's events as Server-Sent Events, following the
// task through the fan-out hub.
//
// # Wire
//
// Each event is one frame, "id: <eventId>" then "data: <envelope JSON>",
// without an "event:" line, so that a browser's onmessage sees every event.
// The stream opens with a "retry:" hint. When nothing was written for
// HeartbeatInterval a comment ping and a JSON heartbeat frame shaped like an
// envelope (type HEARTBEAT, eventId "hb-<random>", payload {"live":true}) go
// out without an "id:" line, so clients use them for liveness and never as a
// cursor. The response ends after the terminal event.
//
// # Connection
//
// Over HTTP/1.1 a stream takes its connection over (hijacks it) and is
// served by a goroutine of its own, so that neither the request's
// goroutine, grown deep by the middleware it went through, nor the HTTP
// server's buffers stay with an idle stream: it holds its follower, a
// small goroutine that waits for the client to hang up, and its socket.
// The goroutine that writes the stream ends after Settings.ParkAfter with
// nothing to send (the stream parks); the next event, heartbeat due,
// hang-up or shutdown of the hub starts a new one where it stopped.
// The response is then chunked, carries the headers set before the stream
// (CORS, say) and closes its connection after it. Over HTTP/2, which cannot
// be hijacked, the stream is served on its request. Server.Shutdown waits
// for the streams it took connections for.
//
// # Lifetime
//
// A stream ends when its client hangs up, its task ends, a client stops
// reading (a write makes no progress for WriteTimeout: a large frame goes
// out in pieces, each with its own deadline, so a slow reader that keeps
// reading is never cut), or the hub closes (the host shuts down): clients
// resume by cursor. Settings' Diagnostics hears when each stream opens and
// why it closed.
//
// # Memory
//
// A stream holds no events of its own between writes: it writes the hub's
// shared encodings, gathering small frames into a pooled buffer and writing
// large ones as they are, and takes at most BatchSize events or BatchBytes
// from the hub at a time.
package sse

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/gather"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/deadline"
	"github.com/taskbridge-go/taskbridge/runtime/internal/diag"
	"github.com/taskbridge-go/taskbridge/runtime/internal/park"
	"github.com/taskbridge-go/taskbridge/runtime/internal/track"
)

// Defaults of Settings.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultRetry             = 3 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultBatchSize         = 256
	DefaultBatchBytes        = 1 << 20
	DefaultParkAfter         = 100 * time.Millisecond
)

// Settings tune the SSE streams; a zero field is its default.
type Settings struct {
	// HeartbeatInterval is the idle time after which a heartbeat is written.
	HeartbeatInterval time.Duration
	// Retry is the reconnection delay suggested to EventSource.
	Retry time.Duration
	// WriteTimeout bounds each write; a client that does not read is cut.
	// Deadlines are renewed lazily, so a stalled write fails after between
	// half and all of it.
	WriteTimeout time.Duration
	// BatchSize and BatchBytes bound the events written with one flush, in
	// events and in bytes (a batch holds at least one event).
	BatchSize, BatchBytes int
	// ParkAfter is how long a stream that took its connection over (HTTP/1.1)
	// keeps the goroutine that writes to it with nothing to send. Past it,
	// the stream holds only the goroutine that waits for the client to hang
	// up, which saves the other's stack while it waits; the next event,
	// heartbeat due, hang-up or shutdown of the hub takes it up again on a
	// new goroutine. Shorter saves memory on streams that pause; longer
	// saves starting goroutines on streams whose events come a little
	// further apart than it. Default 100 ms.
	ParkAfter time.Duration
	// Diagnostics hears when each stream opens, has replayed and closes;
	// nil logs it at debug level on the server's logger.
	Diagnostics taskbridge.Diagnostics
	// Metrics hears what Diagnostics hear, each live event's delivery lag
	// and each heartbeat; nil counts nothing.
	Metrics taskbridge.Metrics
}

func (s Settings) withDefaults() Settings {
	if s.HeartbeatInterval <= 0 {
		s.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if s.Retry <= 0 {
		s.Retry = DefaultRetry
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = DefaultWriteTimeout
	}
	if s.BatchSize <= 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.BatchBytes <= 0 {
		s.BatchBytes = DefaultBatchBytes
	}
	if s.ParkAfter <= 0 {
		s.ParkAfter = DefaultParkAfter
	}
	return s
}

// Server makes SSE streams over a hub. It is safe for concurrent use.
type Server struct {
	hub      *hub.Hub
	settings Settings
	log      *slog.Logger

	conns track.Set[net.Conn] // the connections taken over
}

// New returns a Server; a nil logger discards.
func New(h *hub.Hub, s Settings, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s = s.withDefaults()
	if s.Metrics == nil {
		s.Metrics = taskbridge.NopMetrics{}
	}
	s.Diagnostics = diag.With(diag.Sink(s.Diagnostics, logger), s.Metrics)
	return &Server{hub: h, settings: s, log: logger}
}

// SSE returns the stream of the task's events strictly after the cursor,
// for the caller p. The task was checked by the caller (ownership, cursor,
// 204 after the end). done, when not nil, is called once the stream has
// ended, which may be after ServeStream has returned (see the package doc).
func (s *Server) SSE(_ context.Context, p taskbridge.Principal, task taskbridge.Task, after uint64, done func()) gen.StreamResponse {
	if done == nil {
		done = func() {}
	}
	return &stream{server: s, subject: p.Subject, taskID: task.ID, after: after, head: task.LastEventID, done: done}
}

type stream struct {
	server  *Server
	subject string
	taskID  string
	after   uint64
	head    uint64 // the task's newest event when the stream was asked for: the replay's end
	done    func()

	// Of serving, the control loop's (see run).
	ctx     context.Context
	out     *writer
	ended   func() // when not nil, the loop may park and calls it at the end
	loop    *park.Loop
	f       *hub.Follower
	e       taskbridge.StreamEvent // what the diagnostics hear
	opened  time.Time
	replay  diag.Replay
	wroteAt time.Time // when events were last written (or the stream opened)
	beatAt  time.Time // when a heartbeat was last written (or the stream opened)
}

// ServeStream writes the stream, or hands it to a goroutine of its own
// with the connection; see the package doc.
func (st *stream) ServeStream(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	if conn, head := takeOver(w, r); conn != nil {
		st.server.detach(context.WithoutCancel(r.Context()), st, conn, head)
		return nil
	}
	defer st.done()
	w.WriteHeader(http.StatusOK)
	st.run(r.Context(), newResponseWriter(w, st.server.settings.WriteTimeout), nil)
	return nil
}

// takeOver hijacks an HTTP/1.1 request's connection and returns it with
// the head of the response, which says that the body is chunked and that
// the connection closes after it. It returns nil for any other request
// (HTTP/2 cannot be hijacked), and when the connection cannot be taken.
func takeOver(w http.ResponseWriter, r *http.Request) (net.Conn, []byte) {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		return nil, nil
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil
	}
	// The request is a GET without a body; anything the client sent after
	// it is never read, since the connection closes after the stream.
	h := w.Header().Clone()
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Transfer-Encoding", "chunked")
	h.Set("Connection", "close")
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&head) // a bytes.Buffer does not fail
	head.WriteString("\r\n")
	return conn, head.Bytes()
}

// detach serves the stream on a goroutine of its own, which owns conn, so
// that the request's goroutine and the HTTP server's buffers go: an idle
// stream then holds little more than its socket. A second goroutine waits
// for the client to hang up; the first parks when the stream is idle (see
// Settings.ParkAfter). Shutdown waits for both.
func (s *Server) detach(ctx context.Context, st *stream, conn net.Conn, head []byte) {
	if !s.conns.Add(conn) {
		_ = conn.Close() // shut down: the client resumes elsewhere
		st.done()
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	hungUp := make(chan struct{})
	out := newChunkedWriter(conn, s.settings.WriteTimeout)
	release := func() {
		_ = conn.Close()
		<-hungUp
		cancel()
		st.done()
		s.conns.Remove(conn)
	}
	go func() {
		defer close(hungUp)
		awaitHangUp(conn)
		cancel()
	}()
	go func() {
		if out.raw(head) != nil {
			release()
			return
		}
		st.run(ctx, out, func() {
			out.end()
			release()
		})
	}()
}

// awaitHangUp reads from conn until it fails: the client hung up, or the
// stream closed the connection. Whatever the client sends is discarded.
func awaitHangUp(conn net.Conn) {
	var buf [64]byte
	for {
		if _, err := conn.Read(buf[:]); err != nil {
			return
		}
	}
}

// Shutdown waits until the streams it took the connections of have ended,
// or until ctx ends: then it closes their connections at once and returns
// ctx's error. The streams end when the hub closes, so a host closes the
// hub first. A request that arrives afterwards has its connection closed
// at once. Streams served on their request's goroutine (HTTP/2) are the
// HTTP server's to wait for. Shutdown is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.conns.Shutdown(ctx, nil, func(conn net.Conn) { _ = conn.Close() })
}

// run follows the task and writes its stream until it ends, telling the
// diagnostics when it opens and why it closed. With ended nil it returns
// when the stream has ended; otherwise it returns when the stream has ended
// or its loop has parked, and ended is called once the stream has ended,
// on the goroutine that ends it.
func (st *stream) run(ctx context.Context, out *writer, ended func()) {
	s := st.server
	st.ctx, st.out, st.ended = ctx, out, ended
	st.loop = park.New(st.resume)
	st.loop.WakeWhenDone(ctx)
	st.f = s.hub.Follow(st.taskID, st.after)
	st.e = taskbridge.StreamEvent{Kind: taskbridge.StreamOpened, Transport: "sse", ConnID: diag.NextID(), TaskID: st.taskID, Subject: st.subject, Cursor: st.after}
	s.settings.Diagnostics.StreamEvent(st.e)
	st.opened = time.Now()
	st.replay = diag.NewReplay(st.head, s.settings.Metrics, s.settings.Diagnostics)
	if err := out.write([]byte("retry: " + strconv.FormatInt(s.settings.Retry.Milliseconds(), 10) + "\n\n")); err != nil {
		st.end(writeFailed(err))
		return
	}
	st.wroteAt = time.Now()
	st.beatAt = st.wroteAt
	st.serve()
}

// resume takes the loop up on a new goroutine after it parked.
func (st *stream) resume() {
	st.f.StopWake()
	st.serve()
}

// serve runs the loop until the stream ends, or the loop parks.
func (st *stream) serve() {
	if end, parked := st.deliver(); !parked {
		st.end(end)
	}
}

// ending is why a stream ended.
type ending struct {
	reason taskbridge.StreamReason
	err    error
}

// end tells the diagnostics why the stream ended, and calls ended.
func (st *stream) end(end ending) {
	st.loop.End()
	st.e.Reason, st.e.Err, st.e.Opened = end.reason, end.err, true
	if end.reason == taskbridge.StreamSlowReader {
		st.e.Behind = st.f.Behind()
	}
	st.f.Close()
	st.e.Kind, st.e.Duration = taskbridge.StreamClosed, time.Since(st.opened)
	st.server.settings.Diagnostics.StreamEvent(st.e)
	if st.ended != nil {
		st.ended()
	}
}

// deliver writes each batch of events the follower has, and a heartbeat
// when due, and waits for more; after ParkAfter with nothing to send it
// parks instead of waiting, when it may. It returns why the stream ended,
// or that the loop parked.
func (st *stream) deliver() (end ending, parked bool) {
	s := st.server
	for {
		st.loop.Begin()
		events, wait, err := st.f.Next(st.ctx, s.settings.BatchSize, s.settings.BatchBytes)
		switch {
		case st.ctx.Err() != nil:
			return ending{reason: taskbridge.StreamClientGone}, false
		case errors.Is(err, taskbridge.ErrTaskNotFound):
			return ending{taskbridge.StreamRefused, err}, false // removed by retention meanwhile
		case err != nil:
			return ending{taskbridge.StreamFailed, err}, false
		}
		if len(events) > 0 {
			if err := st.out.writeEvents(events); err != nil {
				return writeFailed(err), false
			}
			st.written(events)
			if events[len(events)-1].Type.IsTerminal() {
				return ending{reason: taskbridge.StreamEnded}, false
			}
			st.wroteAt = time.Now() // the heartbeat and parking wait from here
			// Let every other stream write before this one writes again:
			// under load, a stream that went straight back for more would
			// keep finding some while those behind it wait.
			runtime.Gosched()
			continue
		}
		if s.hub.Closed() {
			return ending{reason: taskbridge.StreamShutdown}, false
		}
		now := time.Now()
		heartbeatAt := later(st.wroteAt, st.beatAt).Add(s.settings.HeartbeatInterval)
		if !now.Before(heartbeatAt) {
			if err := st.out.write(heartbeatFrame(st.taskID)); err != nil {
				return writeFailed(err), false
			}
			s.settings.Metrics.HeartbeatSent("sse")
			st.beatAt, heartbeatAt = now, now.Add(s.settings.HeartbeatInterval)
		}
		parkAt := st.wroteAt.Add(s.settings.ParkAfter)
		if st.ended == nil || now.Before(parkAt) {
			at := heartbeatAt
			if st.ended != nil && parkAt.Before(at) {
				at = parkAt
			}
			st.loop.WakeAt(now, at)
			select {
			case <-wait:
			case <-st.loop.Kicked():
			}
			continue
		}
		st.loop.WakeAt(now, heartbeatAt)
		st.f.WakeOnChange(wait, st.loop.Wake)
		if st.loop.Park() {
			return ending{}, true
		}
		st.f.StopWake()
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// written counts the events just written and tells the replay.
func (st *stream) written(events []*hub.Event) {
	st.replay.Written(events, st.e)
	st.e.Events += len(events)
	st.e.Cursor = events[len(events)-1].ID
}

// writeFailed tells a client that stopped reading (the write deadline
// passed) from one that went away.
func writeFailed(err error) ending {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ending{taskbridge.StreamSlowReader, err}
	}
	return ending{taskbridge.StreamClientGone, err}
}

// writer writes and flushes, with a write deadline that moves on with
// every piece written (set lazily), so that only a client that stops
// reading is cut. It writes to the response, or, chunked, to a connection
// taken over.
type writer struct {
	w        io.Writer
	flusher  *http.ResponseController // nil for a connection taken over
	conn     net.Conn                 // the connection taken over; nil for a response
	timeout  time.Duration
	deadline deadline.Lazy
	err      error // the first write that failed

	size  [16]byte    // a chunk's size line
	chunk net.Buffers // a chunk: its size line, its data, CRLF
}

// Gathering: frames smaller than gatherLimit are copied into a pooled
// buffer and written together; larger ones are written as they are, in
// pieces of writePiece bytes.
const (
	gatherLimit = 16 << 10
	writePiece  = 64 << 10
)

var gatherPool = sync.Pool{New: func() any { b := make([]byte, 0, 4*gatherLimit); return &b }}

// newResponseWriter writes to the response of the request at hand.
func newResponseWriter(w http.ResponseWriter, timeout time.Duration) *writer {
	rc := http.NewResponseController(w)
	setDeadline := func(t time.Time) error {
		if err := rc.SetWriteDeadline(t); !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil // a writer without deadlines writes without them
	}
	return &writer{w: w, flusher: rc, timeout: timeout, deadline: deadline.Lazy{Slack: timeout / 2, Set: setDeadline}}
}

// newChunkedWriter writes the body of a response in chunks to conn.
func newChunkedWriter(conn net.Conn, timeout time.Duration) *writer {
	return &writer{w: conn, conn: conn, timeout: timeout, deadline: deadline.Lazy{Slack: timeout / 2, Set: conn.SetWriteDeadline}}
}

// write writes b and flushes.
func (o *writer) write(b []byte) error {
	if err := o.put(b); err != nil {
		return err
	}
	return o.flush()
}

// put writes b in pieces, each under a deadline of its own.
func (o *writer) put(b []byte) error {
	for len(b) > 0 && o.err == nil {
		n := min(len(b), writePiece)
		if o.err = o.deadline.SetWriteDeadline(time.Now().Add(o.timeout)); o.err != nil {
			break
		}
		if o.conn != nil {
			o.err = o.writeChunk(b[:n])
		} else {
			_, o.err = o.w.Write(b[:n])
		}
		b = b[n:]
	}
	return o.err
}

var crlf = []byte("\r\n")

// writeChunk writes b as one chunk, with one system call.
func (o *writer) writeChunk(b []byte) error {
	size := append(strconv.AppendInt(o.size[:0], int64(len(b)), 16), crlf...)
	o.chunk = append(o.chunk[:0], size, b, crlf)
	err := gather.Write(o.conn, o.chunk)
	clear(o.chunk[:3]) // the data is not held between writes
	return err
}

func (o *writer) flush() error {
	if o.flusher == nil || o.err != nil {
		return o.err
	}
	if o.err = o.deadline.SetWriteDeadline(time.Now().Add(o.timeout)); o.err == nil {
		o.err = o.flusher.Flush()
	}
	return o.err
}

// end ends a chunked body, unless a write failed.
func (o *writer) end() {
	_ = o.raw([]byte("0\r\n\r\n"))
}

// raw writes b as it is to the connection taken over.
func (o *writer) raw(b []byte) error {
	if o.err == nil {
		o.err = o.deadline.SetWriteDeadline(time.Now().Add(o.timeout))
	}
	if o.err == nil {
		_, o.err = o.conn.Write(b)
	}
	return o.err
}

// writeEvents writes a batch of frames and flushes once.
func (o *writer) writeEvents(events []*hub.Event) error {
	if len(events) == 1 {
		return o.write(events[0].SSE)
	}
	buf := gatherPool.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 16*gatherLimit {
			*buf = (*buf)[:0]
			gatherPool.Put(buf)
		}
	}()
	for _, e := range events {
		if len(e.SSE) < gatherLimit {
			*buf = append(*buf, e.SSE...)
			if len(*buf) < 4*gatherLimit {
				continue
			}
		}
		if err := o.put(*buf); err != nil {
			return err
		}
		*buf = (*buf)[:0]
		if len(e.SSE) >= gatherLimit {
			if err := o.put(e.SSE); err != nil {
				return err
			}
		}
	}
	if err := o.put(*buf); err != nil {
		return err
	}
	return o.flush()
}

// heartbeatFrame is a comment ping and the JSON heartbeat, without an id.
func heartbeatFrame(taskID string) []byte {
	hb, _ := json.Marshal(gen.SseHeartbeatFrame{ // a struct of strings and a time always marshals
		Type:      gen.SseHeartbeatFrameTypeHeartbeat,
		TaskId:    taskID,
		EventId:   "hb-" + rand.Text(),
		CreatedAt: time.Now().UTC(),
		Payload:   gen.SseHeartbeatPayload{Live: true},
	})
	b := make([]byte, 0, len(hb)+16)
	b = append(b, ": ping\ndata: "...)
	b = append(b, hb...)
	return append(b, "\n\n"...)
}
