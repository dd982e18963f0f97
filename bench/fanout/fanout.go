// Package fanout is the bare fan-out server the load tool measures the host
// against: the least a server must do to fan TaskBridge events out, with no
// store, no validation, no auth and no hub. Each task keeps its events in
// memory, encoded once for SSE and once as a ready WebSocket frame; an
// append wakes every follower of the task through one closed channel, and
// each follower writes everything it has not sent yet in one write.
//
// It speaks just enough of the protocol for the load tool's script
// (suspend → ticks → complete): create, the action that starts the ticks,
// cancel, the SSE stream and the WebSocket subscription.
package fanout

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
)

// Server is the bare fan-out server. Its zero value is not usable; use New.
type Server struct {
	mu     sync.Mutex
	tasks  map[string]*task
	nextID atomic.Int64

	// ctx ends every task's ticks and every stream at Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an empty server.
func New() *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{tasks: map[string]*task{}, ctx: ctx, cancel: cancel}
}

// Close stops every task and waits for their tickers.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Handler routes the protocol subset.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/tasks", s.create)
	mux.HandleFunc("POST /api/v1/tasks/{taskId}/actions", s.action)
	mux.HandleFunc("POST /api/v1/tasks/{taskId}/cancel", s.cancelTask)
	mux.HandleFunc("GET /api/v1/tasks/{taskId}/events/stream", s.sse)
	mux.HandleFunc("GET /api/v1/tasks/ws", s.ws)
	return mux
}

// ticks is the ticks step of a script.
type ticks struct {
	Count        int     `json:"count"`
	IntervalMs   float64 `json:"intervalMs"`
	PayloadBytes int     `json:"payloadBytes"`
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input struct {
			Steps []struct {
				Ticks *ticks `json:"ticks"`
			} `json:"steps"`
		} `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var plan ticks
	for _, step := range req.Input.Steps {
		if step.Ticks != nil {
			plan = *step.Ticks
		}
	}
	t := newTask(fmt.Sprintf("fanout-%d", s.nextID.Add(1)), plan)
	s.mu.Lock()
	s.tasks[t.id] = t
	s.mu.Unlock()
	t.append("TASK_STARTED", `{}`)
	t.append("TASK_SUSPENDED", `{"suspendId":"start","kind":"USER_ACTION_REQUIRED","reasonCode":"load_start","allowedActions":["start"]}`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"taskId": t.id, "status": "RUNNING"})
}

func (s *Server) task(w http.ResponseWriter, r *http.Request) *task {
	s.mu.Lock()
	t := s.tasks[r.PathValue("taskId")]
	s.mu.Unlock()
	if t == nil {
		http.Error(w, "no such task", http.StatusNotFound)
	}
	return t
}

func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	t := s.task(w, r)
	if t == nil {
		return
	}
	if !t.started.CompareAndSwap(false, true) {
		w.WriteHeader(http.StatusOK)
		return
	}
	t.append("TASK_ACTION_ACCEPTED", `{"suspendId":"start","actionType":"start"}`)
	s.wg.Go(func() { t.tick(s.ctx) })
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request) {
	if t := s.task(w, r); t != nil {
		t.append("TASK_CANCELLED", `{"reason":"cancelled_by_user"}`)
		w.WriteHeader(http.StatusAccepted)
	}
}

// task is one task's events, encoded for both transports.
type task struct {
	id      string
	plan    ticks
	started atomic.Bool

	mu     sync.Mutex
	sse    [][]byte // "id: …\ndata: …\n\n" frames
	ws     [][]byte // complete unmasked WebSocket text frames
	ended  bool
	wake   chan struct{} // closed and replaced at each append
	nextID uint64
}

func newTask(id string, plan ticks) *task {
	return &task{id: id, plan: plan, wake: make(chan struct{})}
}

// append adds an event unless the task ended, and wakes the followers.
func (t *task) append(kind, payload string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return false
	}
	t.nextID++
	e := hub.Encode(taskbridge.Event{TaskID: t.id, ID: t.nextID, Type: taskbridge.EventType(kind), CreatedAt: time.Now(), Payload: json.RawMessage(payload)})
	t.sse = append(t.sse, e.SSE)
	t.ws = append(t.ws, e.WS)
	t.ended = kind == "TASK_COMPLETED" || kind == "TASK_FAILED" || kind == "TASK_CANCELLED"
	close(t.wake)
	t.wake = make(chan struct{})
	return true
}

// tick reports the planned ticks at their interval, then completes.
func (t *task) tick(ctx context.Context) {
	interval := time.Duration(t.plan.IntervalMs * float64(time.Millisecond))
	ticker := time.NewTicker(max(interval, time.Microsecond))
	defer ticker.Stop()
	for i := 1; i <= t.plan.Count; i++ {
		if i > 1 && interval > 0 {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
		text := fmt.Sprintf("tick %d/%d", i, t.plan.Count)
		if n := t.plan.PayloadBytes; n > 0 {
			text = (text + strings.Repeat(".", max(n-len(text), 0)))[:n]
		}
		msg, _ := json.Marshal(map[string]string{"message": text, "level": "info"})
		if !t.append("TASK_MESSAGE", string(msg)) {
			return
		}
	}
	t.append("TASK_COMPLETED", `{"result":null}`)
}

// pending returns the frames after the first `sent` (a cursor past the end
// counts as the end), how many frames come before them, whether the task
// ended, and the channel the next append closes.
func (t *task) pending(frames func(*task) [][]byte, sent int) ([][]byte, int, bool, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := frames(t)
	start := min(sent, len(all))
	return all[start:], start, t.ended, t.wake
}

// follow writes the task's frames from index `from` with write until the
// terminal frame is written, the write fails or ctx ends.
func (t *task) follow(ctx context.Context, frames func(*task) [][]byte, from int, write func([]byte) error) {
	sent := from
	var buf []byte
	for {
		batch, start, ended, wake := t.pending(frames, sent)
		if len(batch) > 0 {
			buf = buf[:0]
			for _, f := range batch {
				buf = append(buf, f...)
			}
			if write(buf) != nil {
				return
			}
			sent = start + len(batch)
		}
		if ended && len(batch) == 0 {
			return
		}
		if ended {
			continue // one more pass sends nothing and returns
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

func sseFrames(t *task) [][]byte { return t.sse }
func wsFrames(t *task) [][]byte  { return t.ws }

// cursor reads a resume cursor: events 1..n were sent, so the next index
// is n.
func cursor(raw string) int {
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (s *Server) sse(w http.ResponseWriter, r *http.Request) {
	t := s.task(w, r)
	if t == nil {
		return
	}
	from := cursor(cmp.Or(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("lastEventId")))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache, no-transform")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	go func() { // Close ends the stream
		select {
		case <-s.ctx.Done():
			stop()
		case <-ctx.Done():
		}
	}()
	t.follow(ctx, sseFrames, from, func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	})
}

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	var sub struct {
		TaskID      string `json:"taskId"`
		LastEventID string `json:"lastEventId"`
	}
	if conn.ReadJSON(&sub) != nil {
		return
	}
	s.mu.Lock()
	t := s.tasks[sub.TaskID]
	s.mu.Unlock()
	if t == nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "no such task"), time.Now().Add(time.Second))
		return
	}
	confirmed, _ := json.Marshal(map[string]any{"type": "SUBSCRIPTION_CONFIRMED", "taskId": t.id, "replayStartedAfterEventId": nil, "live": true})
	if conn.WriteMessage(websocket.TextMessage, confirmed) != nil {
		return
	}
	ctx, stop := context.WithCancel(s.ctx)
	defer stop()
	go func() { // a read error (the peer left) ends the stream
		defer stop()
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	// Frames are pre-encoded: write them straight to the connection. Only
	// this goroutine writes until the close frame.
	raw := conn.NetConn()
	t.follow(ctx, wsFrames, cursor(sub.LastEventID), func(b []byte) error {
		_, err := raw.Write(b)
		return err
	})
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}
