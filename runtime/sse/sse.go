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
// # Lifetime
//
// A stream ends when its request ends, its task ends, a client stops
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
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/deadline"
	"github.com/taskbridge-go/taskbridge/runtime/internal/diag"
)

// Defaults of Settings.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultRetry             = 3 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultBatchSize         = 256
	DefaultBatchBytes        = 1 << 20
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
	// Diagnostics hears when each stream opens and closes; nil logs it at
	// debug level on the server's logger.
	Diagnostics taskbridge.Diagnostics
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
	return s
}

// Server makes SSE streams over a hub. It is safe for concurrent use.
type Server struct {
	hub      *hub.Hub
	settings Settings
	log      *slog.Logger
}

// New returns a Server; a nil logger discards.
func New(h *hub.Hub, s Settings, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s = s.withDefaults()
	s.Diagnostics = diag.Sink(s.Diagnostics, logger)
	return &Server{hub: h, settings: s, log: logger}
}

// SSE returns the stream of the task's events strictly after the cursor,
// for the caller p. The task was checked by the caller (ownership, cursor,
// 204 after the end).
func (s *Server) SSE(_ context.Context, p taskbridge.Principal, task taskbridge.Task, after uint64) gen.StreamResponse {
	return &stream{server: s, subject: p.Subject, taskID: task.ID, after: after}
}

type stream struct {
	server  *Server
	subject string
	taskID  string
	after   uint64
}

// ServeStream writes the stream until it ends; see the package doc.
func (st *stream) ServeStream(w http.ResponseWriter, r *http.Request) error {
	s := st.server
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	f := s.hub.Follow(st.taskID, st.after)
	defer f.Close()
	e := taskbridge.StreamEvent{Kind: taskbridge.StreamOpened, Transport: "sse", ConnID: diag.NextID(), TaskID: st.taskID, Subject: st.subject, Cursor: st.after}
	s.settings.Diagnostics.StreamEvent(e)
	start := time.Now()
	defer func() {
		e.Kind, e.Duration = taskbridge.StreamClosed, time.Since(start)
		s.settings.Diagnostics.StreamEvent(e)
	}()
	e.Reason, e.Err = st.serve(r.Context(), f, newWriter(w, rc, s.settings.WriteTimeout), &e)
	return nil
}

// serve writes the stream until it ends, counting into e the events it
// wrote, and tells why it ended.
func (st *stream) serve(ctx context.Context, f *hub.Follower, out *writer, e *taskbridge.StreamEvent) (taskbridge.StreamReason, error) {
	s := st.server
	if err := out.write([]byte("retry: " + strconv.FormatInt(s.settings.Retry.Milliseconds(), 10) + "\n\n")); err != nil {
		return writeFailed(err)
	}
	heartbeat := time.NewTimer(s.settings.HeartbeatInterval)
	defer heartbeat.Stop()
	for {
		events, changed, err := f.Next(ctx, s.settings.BatchSize, s.settings.BatchBytes)
		switch {
		case ctx.Err() != nil:
			return taskbridge.StreamClientGone, nil
		case errors.Is(err, taskbridge.ErrTaskNotFound):
			return taskbridge.StreamRefused, err // removed by retention meanwhile
		case err != nil:
			return taskbridge.StreamFailed, err
		}
		if len(events) > 0 {
			if err := out.writeEvents(events); err != nil {
				return writeFailed(err)
			}
			e.Events += len(events)
			e.Cursor = f.Cursor()
			if events[len(events)-1].Type.IsTerminal() {
				return taskbridge.StreamEnded, nil
			}
			heartbeat.Reset(s.settings.HeartbeatInterval)
			// Let every other stream write before this one writes again:
			// under load, a stream that went straight back for more would
			// keep finding some while those behind it wait.
			runtime.Gosched()
			continue
		}
		select {
		case <-changed:
		case <-heartbeat.C:
			if err := out.write(heartbeatFrame(st.taskID)); err != nil {
				return writeFailed(err)
			}
			heartbeat.Reset(s.settings.HeartbeatInterval)
		case <-ctx.Done():
			return taskbridge.StreamClientGone, nil
		case <-s.hub.Done():
			return taskbridge.StreamShutdown, nil
		}
	}
}

// writeFailed tells a client that stopped reading (the write deadline
// passed) from one that went away.
func writeFailed(err error) (taskbridge.StreamReason, error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return taskbridge.StreamSlowReader, err
	}
	return taskbridge.StreamClientGone, err
}

// writer writes and flushes, with a write deadline that moves on with
// every piece written (set lazily), so that only a client that stops
// reading is cut.
type writer struct {
	w        io.Writer
	rc       *http.ResponseController
	timeout  time.Duration
	deadline deadline.Lazy
}

// Gathering: frames smaller than gatherLimit are copied into a pooled
// buffer and written together; larger ones are written as they are, in
// pieces of writePiece bytes.
const (
	gatherLimit = 16 << 10
	writePiece  = 64 << 10
)

var gatherPool = sync.Pool{New: func() any { b := make([]byte, 0, 4*gatherLimit); return &b }}

func newWriter(w io.Writer, rc *http.ResponseController, timeout time.Duration) *writer {
	setDeadline := func(t time.Time) error {
		if err := rc.SetWriteDeadline(t); !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil // a writer without deadlines writes without them
	}
	return &writer{w: w, rc: rc, timeout: timeout, deadline: deadline.Lazy{Slack: timeout / 2, Set: setDeadline}}
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
	for len(b) > 0 {
		n := min(len(b), writePiece)
		if err := o.deadline.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil {
			return err
		}
		if _, err := o.w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (o *writer) flush() error {
	if err := o.deadline.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil {
		return err
	}
	return o.rc.Flush()
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
