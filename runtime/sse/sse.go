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
// A stream ends when its request ends, its task ends, a write does not
// finish within WriteTimeout (a client that stopped reading), or the hub
// closes (the host shuts down): clients resume by cursor.
package sse

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/deadline"
)

// Defaults of Settings.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultRetry             = 3 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultBatchSize         = 256
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
	// BatchSize bounds the events written with one flush.
	BatchSize int
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
	return &Server{hub: h, settings: s.withDefaults(), log: logger}
}

// SSE returns the stream of the task's events strictly after the cursor.
// The task was checked by the caller (ownership, cursor, 204 after the end).
func (s *Server) SSE(_ context.Context, task taskbridge.Task, after uint64) gen.StreamResponse {
	return &stream{server: s, taskID: task.ID, after: after}
}

type stream struct {
	server *Server
	taskID string
	after  uint64
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
	out := newWriter(w, rc, s.settings.WriteTimeout)
	if err := out.write([]byte("retry: " + strconv.FormatInt(s.settings.Retry.Milliseconds(), 10) + "\n\n")); err != nil {
		return nil
	}
	heartbeat := time.NewTimer(s.settings.HeartbeatInterval)
	defer heartbeat.Stop()
	ctx := r.Context()
	for {
		events, changed, err := f.Next(ctx, s.settings.BatchSize)
		if err != nil {
			st.ended(ctx, "reading events failed", err)
			return nil
		}
		if len(events) > 0 {
			if err := out.writeEvents(events); err != nil {
				st.ended(ctx, "writing events failed", err)
				return nil
			}
			if events[len(events)-1].Type.IsTerminal() {
				return nil
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
				st.ended(ctx, "writing a heartbeat failed", err)
				return nil
			}
			heartbeat.Reset(s.settings.HeartbeatInterval)
		case <-ctx.Done():
			return nil
		case <-s.hub.Done():
			return nil
		}
	}
}

func (st *stream) ended(ctx context.Context, msg string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, taskbridge.ErrTaskNotFound) {
		return
	}
	if st.server.log.Enabled(ctx, slog.LevelDebug) {
		st.server.log.LogAttrs(ctx, slog.LevelDebug, "sse stream ended: "+msg, slog.String("taskId", st.taskID), slog.Any("err", err))
	}
}

// writer writes and flushes with a deadline per write, set lazily.
type writer struct {
	w        io.Writer
	rc       *http.ResponseController
	timeout  time.Duration
	deadline deadline.Lazy
	buf      []byte
}

func newWriter(w io.Writer, rc *http.ResponseController, timeout time.Duration) *writer {
	setDeadline := func(t time.Time) error {
		if err := rc.SetWriteDeadline(t); !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil // a writer without deadlines writes without them
	}
	return &writer{w: w, rc: rc, timeout: timeout, deadline: deadline.Lazy{Slack: timeout / 2, Set: setDeadline}}
}

func (o *writer) write(b []byte) error {
	if err := o.deadline.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil {
		return err
	}
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	return o.rc.Flush()
}

// writeEvents writes a batch of frames with one write and one flush.
func (o *writer) writeEvents(events []*hub.Event) error {
	if len(events) == 1 {
		return o.write(events[0].SSE)
	}
	o.buf = o.buf[:0]
	for _, e := range events {
		o.buf = append(o.buf, e.SSE...)
	}
	return o.write(o.buf)
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
