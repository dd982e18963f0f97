package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/diag"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// guard bounds every wait of the tests. It only turns a hang into a
// failure; nothing is asserted about how long anything takes.
const guard = 30 * time.Second

// TestMain fails the run when a goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is one test's world: a memory store, a running hub, a ws.Server and
// an HTTP server whose handler serves the WebSocket for the subject named by
// the access_token parameter (alice by default).
type env struct {
	t     testing.TB
	store *memory.Store
	hub   *hub.Hub
	srv   *ws.Server
	ts    *httptest.Server
	// ended hears every session end, through its done callback.
	ended chan struct{}
	// served receives the result of every ServeStream.
	served chan error
	seq    atomic.Int64
	// diag hears every session, unless the test set its own Diagnostics.
	diag *diag.Recorder
}

// newEnv starts an env; tweak, when given, changes the HTTP server before
// it starts.
func newEnv(t testing.TB, s ws.Settings, tweak ...func(*httptest.Server)) *env {
	t.Helper()
	e := &env{t: t, store: memory.New(), ended: make(chan struct{}, 1024), served: make(chan error, 1024), diag: diag.NewRecorder(1024)}
	if s.Diagnostics == nil {
		s.Diagnostics = e.diag
	}
	e.hub = hub.New(e.store, hub.Config{})
	runDone := make(chan error, 1)
	go func() { runDone <- e.hub.Run(context.WithoutCancel(t.Context())) }()
	var logger *slog.Logger
	if _, ok := t.(*testing.T); ok {
		logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e.srv = ws.New(e.hub, s, logger)
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := taskbridge.Principal{Subject: r.URL.Query().Get("access_token")}
		if p.Subject == "" {
			p.Subject = "alice"
		}
		done := func() { e.ended <- struct{}{} }
		e.served <- e.srv.WebSocket(r.Context(), p, e.opener(p), done).ServeStream(w, r)
	}))
	for _, f := range tweak {
		f(e.ts)
	}
	e.ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), guard)
		defer cancel()
		require.NoError(t, e.srv.Shutdown(ctx))
		e.ts.Close()
		e.hub.Close()
		require.NoError(t, <-runDone)
	})
	e.waitWatching()
	return e
}

// opener is the open function the services would pass: the caller's tasks
// only, anything else is missing.
func (e *env) opener(p taskbridge.Principal) func(context.Context, string) (taskbridge.Task, error) {
	return func(ctx context.Context, taskID string) (taskbridge.Task, error) {
		task, err := e.store.GetTask(ctx, taskID)
		if err != nil {
			return taskbridge.Task{}, err
		}
		if task.Owner != p.Subject {
			return taskbridge.Task{}, fmt.Errorf("%w: %s", taskbridge.ErrTaskNotFound, taskID)
		}
		return task, nil
	}
}

// waitWatching returns once the hub watches the store: Run starts the watch
// asynchronously, and an append before it would wake nobody.
func (e *env) waitWatching() {
	e.t.Helper()
	id := e.newTask("alice")
	ch, release := e.hub.Notify(id)
	defer release()
	stop := time.After(guard)
	for {
		e.add(id, taskbridge.EventMessage)
		select {
		case <-ch:
			return
		case <-stop:
			e.t.Fatal("the hub never started watching the store")
		case <-time.After(time.Millisecond):
		}
	}
}

// newTask creates a task owned by owner and returns its id.
func (e *env) newTask(owner string) string {
	e.t.Helper()
	id := fmt.Sprintf("task-%d", e.seq.Add(1))
	_, created, err := e.store.CreateTask(e.t.Context(), taskbridge.NewTask{
		ID: id, Owner: owner, ClientRequestID: id, Type: "job",
		Input: json.RawMessage(`null`), Fingerprint: id, CreatedAt: time.Now(),
	})
	require.NoError(e.t, err)
	require.True(e.t, created)
	return id
}

// add appends an event of type typ with a valid payload and status move.
func (e *env) add(taskID string, typ taskbridge.EventType) taskbridge.Event {
	e.t.Helper()
	ev, err := e.store.Append(context.WithoutCancel(e.t.Context()), taskID, appendOf(typ, "note"))
	require.NoError(e.t, err, "append %s", typ)
	return ev
}

func appendOf(typ taskbridge.EventType, note string) taskbridge.Append {
	a := taskbridge.Append{Type: typ}
	switch typ {
	case taskbridge.EventStarted:
		a.Payload, a.Status = json.RawMessage(fmt.Sprintf(`{"message":%q}`, note)), taskbridge.StatusRunning
	case taskbridge.EventCompleted:
		a.Payload, a.Status = json.RawMessage(fmt.Sprintf(`{"result":{"note":%q}}`, note)), taskbridge.StatusCompleted
	default:
		a.Payload = json.RawMessage(fmt.Sprintf(`{"message":%q,"level":"info"}`, note))
	}
	return a
}

// runningTask creates a task with n events (TASK_STARTED, then messages).
func (e *env) runningTask(n int) string {
	e.t.Helper()
	id := e.newTask("alice")
	for i := range n {
		if i == 0 {
			e.add(id, taskbridge.EventStarted)
		} else {
			e.add(id, taskbridge.EventMessage)
		}
	}
	return id
}

// dial opens a WebSocket as alice.
func (e *env) dial() *websocket.Conn { return e.dialAs("alice", websocket.DefaultDialer) }

func (e *env) dialAs(subject string, d *websocket.Dialer) *websocket.Conn {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/api/v1/tasks/ws?access_token=" + subject
	c, resp, err := d.DialContext(e.t.Context(), url, nil)
	require.NoError(e.t, err)
	_ = resp.Body.Close()
	e.t.Cleanup(func() { _ = c.Close() })
	require.NoError(e.t, c.SetReadDeadline(time.Now().Add(guard)))
	return c
}

// waitEnded waits for n sessions to end.
func (e *env) waitEnded(n int) {
	e.t.Helper()
	for range n {
		select {
		case <-e.ended:
		case <-time.After(guard):
			e.t.Fatal("a session did not end")
		}
	}
}

func subscribe(t testing.TB, c *websocket.Conn, taskID string, cursor any) {
	t.Helper()
	frame := map[string]any{"action": "subscribe", "taskId": taskID}
	if cursor != nil {
		frame["lastEventId"] = cursor
	}
	require.NoError(t, c.WriteJSON(frame))
}

// frame is a server frame: its raw bytes and the fields tests look at.
type frame struct {
	raw                       []byte
	Type                      string  `json:"type"`
	TaskID                    string  `json:"taskId"`
	EventID                   string  `json:"eventId"`
	ReplayStartedAfterEventID *string `json:"replayStartedAfterEventId"`
	Live                      bool    `json:"live"`
}

// next reads one frame and checks it against the contract; at the close it
// returns the close error instead.
func next(t *testing.T, c *websocket.Conn) (frame, *websocket.CloseError) {
	t.Helper()
	typ, data, err := c.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, "the connection ended without a close frame or status")
		return frame{}, ce
	}
	require.Equal(t, websocket.TextMessage, typ)
	_, err = gen.DecodeTaskStreamServerFrame(data)
	require.NoError(t, err, "frame %s", data)
	f := frame{raw: data}
	require.NoError(t, json.Unmarshal(data, &f))
	return f, nil
}

// confirmed reads the SUBSCRIPTION_CONFIRMED frame.
func confirmed(t *testing.T, c *websocket.Conn, taskID string) frame {
	t.Helper()
	f, ce := next(t, c)
	require.Nil(t, ce, "closed instead of confirming")
	require.Equal(t, gen.FrameTypeSubscriptionConfirmed, f.Type)
	require.Equal(t, taskID, f.TaskID)
	require.True(t, f.Live)
	return f
}

// events reads event frames, skipping heartbeats, until the close; it
// returns the events' ids and the close.
func events(t *testing.T, c *websocket.Conn) ([]uint64, *websocket.CloseError) {
	t.Helper()
	var ids []uint64
	for {
		f, ce := next(t, c)
		if ce != nil {
			return ids, ce
		}
		if f.Type == gen.FrameTypeHeartbeat {
			continue
		}
		id, err := taskbridge.ParseEventID(f.EventID)
		require.NoError(t, err)
		ids = append(ids, id)
	}
}

// nextEvent reads the next event frame, skipping heartbeats.
func nextEvent(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	for {
		f, ce := next(t, c)
		require.Nil(t, ce, "closed while an event was expected")
		if f.Type != gen.FrameTypeHeartbeat {
			return f
		}
	}
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

// requireClose requires the close code (and a reason starting with prefix).
func requireClose(t *testing.T, ce *websocket.CloseError, code int, prefix string) {
	t.Helper()
	require.NotNil(t, ce, "the connection is still open")
	require.Equal(t, code, ce.Code, "close reason %q", ce.Text)
	require.True(t, strings.HasPrefix(ce.Text, prefix), "close reason %q, want prefix %q", ce.Text, prefix)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
