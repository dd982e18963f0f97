package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
)

func TestReplayThenLiveThenNormalClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(5)
	c := e.dial()
	subscribe(t, c, id, "2")
	f := confirmed(t, c, id)
	require.NotNil(t, f.ReplayStartedAfterEventID)
	require.Equal(t, "2", *f.ReplayStartedAfterEventID)

	stored, err := e.store.ReadAfter(t.Context(), id, 0, 100, 0)
	require.NoError(t, err)
	for _, want := range stored[2:] {
		got := nextEvent(t, c)
		require.Equal(t, string(hub.EncodeJSON(want)), string(got.raw), "an event frame is the envelope as the hub encodes it")
	}

	live := []taskbridge.Event{e.add(id, taskbridge.EventMessage), e.add(id, taskbridge.EventMessage), e.add(id, taskbridge.EventCompleted)}
	for _, want := range live {
		got := nextEvent(t, c)
		require.Equal(t, string(hub.EncodeJSON(want)), string(got.raw))
	}
	ids, ce := events(t, c)
	require.Empty(t, ids, "nothing after the terminal event")
	requireClose(t, ce, gen.CloseNormalClosure, "")
	e.waitEnded(1)

	closed := e.diag.Closed()
	require.Equal(t, taskbridge.StreamEnded, closed.Reason)
	require.Equal(t, 6, closed.Events, "three replayed, three live")
	require.Equal(t, uint64(8), closed.Cursor)
	require.NoError(t, closed.Err)
	opened := e.diag.Opened()
	require.Equal(t, []taskbridge.StreamEvent{{Kind: taskbridge.StreamOpened, Transport: "websocket", ConnID: closed.ConnID, TaskID: id, Subject: "alice", Cursor: 2}}, opened)
}

func TestReplayFromTheStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(4)
	e.add(id, taskbridge.EventCompleted)
	for name, cursor := range map[string]any{"absent": nil, "null": json.RawMessage(`null`)} {
		t.Run(name, func(t *testing.T) {
			c := e.dial()
			subscribe(t, c, id, cursor)
			f := confirmed(t, c, id)
			require.Nil(t, f.ReplayStartedAfterEventID)
			require.Contains(t, string(f.raw), `"replayStartedAfterEventId":null`)
			ids, ce := events(t, c)
			require.Equal(t, span(1, 5), ids)
			requireClose(t, ce, gen.CloseNormalClosure, "")
		})
	}
}

func TestCursorAtTheTerminalEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(2)
	e.add(id, taskbridge.EventCompleted) // event 3
	for _, tc := range []struct {
		cursor string
		want   []uint64
	}{{"3", nil}, {"2", []uint64{3}}, {"0", span(1, 3)}} {
		t.Run(tc.cursor, func(t *testing.T) {
			c := e.dial()
			subscribe(t, c, id, tc.cursor)
			f := confirmed(t, c, id)
			require.Equal(t, tc.cursor, *f.ReplayStartedAfterEventID)
			ids, ce := events(t, c)
			require.Equal(t, tc.want, ids)
			requireClose(t, ce, gen.CloseNormalClosure, "")
		})
	}
}

// The replay of an ended task is whole: the close waits for every queued
// event.
func TestReplayOfAnEndedTaskIsWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{BatchSize: 64})
	const n = 3000
	id := e.runningTask(n - 1)
	e.add(id, taskbridge.EventCompleted)
	for range 3 {
		c := e.dial()
		subscribe(t, c, id, nil)
		confirmed(t, c, id)
		ids, ce := events(t, c)
		require.Equal(t, span(1, n), ids)
		requireClose(t, ce, gen.CloseNormalClosure, "")
	}
}

// A cursor ahead of the task's newest event cannot be one of its cursors
// (another task's, a database that lost data): 1008, never a session that
// waits for events it will never be sent. A cursor equal to the newest
// event is a client that saw everything so far.
func TestCursorAheadOfTheTaskIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	live := e.runningTask(2)
	ended := e.runningTask(2)
	e.add(ended, taskbridge.EventCompleted) // event 3
	for _, tc := range []struct{ task, cursor string }{{live, "3"}, {live, "999"}, {ended, "4"}} {
		c := e.dial()
		subscribe(t, c, tc.task, tc.cursor)
		_, ce := next(t, c)
		requireClose(t, ce, gen.ClosePolicyViolation, "INVALID_REQUEST: lastEventId is ahead")
	}
	c := e.dial()
	subscribe(t, c, live, "2")
	confirmed(t, c, live)
	e.add(live, taskbridge.EventCompleted)
	ids, ce := events(t, c)
	require.Equal(t, []uint64{3}, ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")
}

// Events larger than the writer's buffers are written whole.
func TestLargeEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.newTask("alice")
	e.add(id, taskbridge.EventStarted)
	big := strings.Repeat("x", 200<<10)
	for range 3 {
		_, err := e.store.Append(t.Context(), id, appendOf(taskbridge.EventMessage, big))
		require.NoError(t, err)
	}
	e.add(id, taskbridge.EventCompleted)
	c := e.dial()
	subscribe(t, c, id, nil)
	confirmed(t, c, id)
	ids, ce := events(t, c)
	require.Equal(t, span(1, 5), ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")
}

func TestPolicyViolations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(1)
	bobs := e.newTask("bob")

	// A session that lives through every bad one.
	witness := e.dial()
	subscribe(t, witness, id, nil)
	confirmed(t, witness, id)
	require.Equal(t, "1", nextEvent(t, witness).EventID)

	text := func(s string) func(*testing.T, *websocket.Conn) {
		return func(t *testing.T, c *websocket.Conn) {
			require.NoError(t, c.WriteMessage(websocket.TextMessage, []byte(s)))
		}
	}
	for _, tc := range []struct {
		name   string
		send   func(*testing.T, *websocket.Conn)
		prefix string
	}{
		{"MalformedJSON", text(`{"action":"subscribe",`), "INVALID_REQUEST: "},
		{"NotAnObject", text(`["subscribe"]`), "REQUEST_VALIDATION_ERROR: "},
		{"UnknownAction", text(`{"action":"unsubscribe","taskId":"` + id + `"}`), "REQUEST_VALIDATION_ERROR: "},
		{"MissingAction", text(`{"taskId":"` + id + `"}`), "REQUEST_VALIDATION_ERROR: "},
		{"MissingTaskID", text(`{"action":"subscribe"}`), "REQUEST_VALIDATION_ERROR: "},
		{"UnknownField", text(`{"action":"subscribe","taskId":"` + id + `","extra":1}`), "REQUEST_VALIDATION_ERROR: "},
		{"WrongType", text(`{"action":"subscribe","taskId":7}`), "REQUEST_VALIDATION_ERROR: "},
		{"InvalidTaskID", text(`{"action":"subscribe","taskId":"../etc"}`), "REQUEST_VALIDATION_ERROR: "},
		{"BinaryFrame", func(t *testing.T, c *websocket.Conn) {
			require.NoError(t, c.WriteMessage(websocket.BinaryMessage, []byte(`{"action":"subscribe","taskId":"`+id+`"}`)))
		}, "INVALID_REQUEST: binary"},
		{"CursorLetters", text(`{"action":"subscribe","taskId":"` + id + `","lastEventId":"abc"}`), "INVALID_REQUEST: malformed lastEventId"},
		{"CursorLeadingZero", text(`{"action":"subscribe","taskId":"` + id + `","lastEventId":"01"}`), "INVALID_REQUEST: malformed lastEventId"},
		{"CursorEmpty", text(`{"action":"subscribe","taskId":"` + id + `","lastEventId":""}`), "INVALID_REQUEST: malformed lastEventId"},
		{"AnotherOwnersTask", text(`{"action":"subscribe","taskId":"` + bobs + `"}`), "TASK_NOT_FOUND: "},
		{"MissingTask", text(`{"action":"subscribe","taskId":"no-such-task"}`), "TASK_NOT_FOUND: "},
		{"SecondSubscribe", func(t *testing.T, c *websocket.Conn) {
			subscribe(t, c, id, "1")
			confirmed(t, c, id)
			subscribe(t, c, id, "1")
		}, "INVALID_REQUEST: already subscribed"},
		{"InvalidSecondFrame", func(t *testing.T, c *websocket.Conn) {
			subscribe(t, c, id, "1")
			confirmed(t, c, id)
			require.NoError(t, c.WriteMessage(websocket.TextMessage, []byte(`nope`)))
		}, "INVALID_REQUEST: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial()
			tc.send(t, c)
			_, ce := next(t, c)
			requireClose(t, ce, gen.ClosePolicyViolation, tc.prefix)
			require.LessOrEqual(t, len(ce.Text), 123)
			closed := e.diag.Closed()
			want := taskbridge.StreamRefused
			if strings.HasPrefix(tc.prefix, "INVALID_REQUEST") {
				want = taskbridge.StreamBadFrame
			}
			require.Equal(t, want, closed.Reason)
			require.ErrorContains(t, closed.Err, strings.TrimSpace(tc.prefix))
		})
	}

	// The witness still streams, and a new session is served.
	e.add(id, taskbridge.EventCompleted)
	ids, ce := events(t, witness)
	require.Equal(t, []uint64{2}, ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")
	c := e.dial()
	subscribe(t, c, id, nil)
	confirmed(t, c, id)
	ids, ce = events(t, c)
	require.Equal(t, span(1, 2), ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")
}

// A frame over the read limit closes with 1009, whether it is read to just
// past the limit or refused by its header. The server may close while the
// client still writes a huge frame; then the client may see the reset
// instead of the close frame, but never another close code.
func TestFrameOverTheReadLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(1)
	for _, size := range []int{ws.DefaultReadLimit + 1, 32 << 10, 1 << 20} {
		c := e.dial()
		frame := `{"action":"subscribe","taskId":"` + id + `","lastEventId":"` + strings.Repeat("1", size) + `"}`
		written := make(chan error, 1)
		go func() { written <- c.WriteMessage(websocket.TextMessage, []byte(frame)) }()
		var ce *websocket.CloseError
		_, _, err := c.ReadMessage()
		if size < 64<<10 || errors.As(err, &ce) {
			require.ErrorAs(t, err, &ce, "size %d", size)
			require.Equal(t, websocket.CloseMessageTooBig, ce.Code, "size %d: %s", size, ce.Text)
		}
		<-written
		require.Equal(t, taskbridge.StreamBadFrame, e.diag.Closed().Reason, "size %d", size)
	}
}

func TestNoSubscribeInTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{SubscribeTimeout: 10 * time.Millisecond})
	c := e.dial()
	_, ce := next(t, c)
	requireClose(t, ce, gen.ClosePolicyViolation, "INVALID_REQUEST: ")
	closed := e.diag.Closed()
	require.Equal(t, taskbridge.StreamRefused, closed.Reason)
	require.False(t, closed.Opened, "a session without a subscription never opened")
}

func TestHeartbeatWhenIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{HeartbeatInterval: 5 * time.Millisecond})
	id := e.runningTask(1)
	c := e.dial()
	subscribe(t, c, id, "1")
	confirmed(t, c, id)
	f, ce := next(t, c)
	require.Nil(t, ce)
	require.Equal(t, gen.FrameTypeHeartbeat, f.Type)
	require.JSONEq(t, `{"type":"HEARTBEAT","taskId":"`+id+`","live":true}`, string(f.raw))
	// Events still flow between heartbeats.
	e.add(id, taskbridge.EventCompleted)
	ids, ce := events(t, c)
	require.Equal(t, []uint64{2}, ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")
}

// A peer that stops reading is cut; another session of the same task gets
// every event meanwhile, and then the terminal event.
func TestPeerThatStopsReadingIsCut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{BatchSize: 4, WriteTimeout: 2 * time.Second}, func(s *httptest.Server) {
		// Small socket buffers, so that a peer that does not read blocks
		// the server's writes soon.
		s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			_ = c.(*net.TCPConn).SetWriteBuffer(8 << 10)
			return ctx
		}
	})
	id := e.runningTask(1)
	const n = 2000
	payload := strings.Repeat("p", 1<<10)
	for range n - 1 {
		_, err := e.store.Append(t.Context(), id, appendOf(taskbridge.EventMessage, payload))
		require.NoError(t, err)
	}

	stuck := e.dial()
	subscribe(t, stuck, id, nil) // and read nothing until it is cut

	c := e.dial()
	subscribe(t, c, id, nil)
	confirmed(t, c, id)
	for want := uint64(1); want <= n; want++ {
		require.Equal(t, taskbridge.FormatEventID(want), nextEvent(t, c).EventID)
	}

	e.waitEnded(1) // the stuck session; the other one is still open
	stuckEnd := e.diag.Closed()
	require.Equal(t, taskbridge.StreamSlowReader, stuckEnd.Reason)
	require.Positive(t, stuckEnd.Behind, "a slow reader's close tells how far behind it was")
	e.add(id, taskbridge.EventCompleted)
	ids, ce := events(t, c)
	require.Equal(t, []uint64{n + 1}, ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")

	// The stuck peer got a gap-free prefix and no close frame.
	confirmed(t, stuck, id)
	ids, ce = events(t, stuck)
	require.Less(t, len(ids), n+1)
	if len(ids) > 0 {
		require.Equal(t, span(1, uint64(len(ids))), ids)
	}
	requireClose(t, ce, websocket.CloseAbnormalClosure, "")
}

// A peer that stops answering pings is dropped after PongTimeout.
func TestVanishedPeerIsDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{PingInterval: 20 * time.Millisecond, PongTimeout: 500 * time.Millisecond})
	id := e.runningTask(1)
	c := e.dial()
	c.SetPingHandler(func(string) error { return nil }) // no pong
	subscribe(t, c, id, "1")
	confirmed(t, c, id)
	_, ce := events(t, c)
	requireClose(t, ce, websocket.CloseAbnormalClosure, "")
	e.waitEnded(1)
	require.Equal(t, taskbridge.StreamHeartbeatTimeout, e.diag.Closed().Reason)

	// A peer that answers pings is kept past many PongTimeouts.
	alive := e.dial()
	subscribe(t, alive, id, "1")
	confirmed(t, alive, id)
	pongs := make(chan struct{}, 1)
	def := alive.PingHandler()
	var seen int
	alive.SetPingHandler(func(s string) error {
		if seen++; seen == 40 { // well past PongTimeout
			pongs <- struct{}{}
		}
		return def(s)
	})
	go func() {
		<-pongs
		e.add(id, taskbridge.EventCompleted)
	}()
	ids, ce := events(t, alive)
	require.Equal(t, []uint64{2}, ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(1)
	conns := []*websocket.Conn{e.dial(), e.dial()}
	for _, c := range conns {
		subscribe(t, c, id, nil)
		confirmed(t, c, id)
	}
	idle := e.dial() // connected, not subscribed yet

	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(t.Context()) }()
	for _, c := range append(conns, idle) {
		_, ce := events(t, c)
		requireClose(t, ce, gen.CloseGoingAway, "")
	}
	require.NoError(t, <-shut)
	e.waitEnded(3)
	for range 3 {
		require.Equal(t, taskbridge.StreamShutdown, e.diag.Closed().Reason)
	}
	require.NoError(t, e.srv.Shutdown(t.Context()), "Shutdown is idempotent")

	late := e.dial()
	_, ce := next(t, late)
	requireClose(t, ce, gen.CloseGoingAway, "")
	e.waitEnded(1)
}

func TestShutdownContextBoundsTheWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(1)
	c := e.dial()
	c.SetCloseHandler(func(int, string) error { return nil }) // never answers a close
	subscribe(t, c, id, nil)
	confirmed(t, c, id)
	// The session would wait WriteTimeout for the peer's close frame; the
	// ended context makes Shutdown close the connection at once.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, e.srv.Shutdown(ctx), context.Canceled)
	e.waitEnded(1)
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	require.False(t, isTimeout(err), "the connection is closed (with or without a close frame)")
}

func TestHubCloseEndsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(1)
	c := e.dial()
	subscribe(t, c, id, "1")
	confirmed(t, c, id)
	e.hub.Close()
	_, ce := events(t, c)
	requireClose(t, ce, gen.CloseGoingAway, "")
	e.waitEnded(1)
}

func TestClientCloseEndsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(3)
	c := e.dial()
	subscribe(t, c, id, nil)
	confirmed(t, c, id)
	require.NoError(t, c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(guard)))
	e.waitEnded(1)
	closed := e.diag.Closed()
	require.Equal(t, taskbridge.StreamClientGone, closed.Reason)
	require.NoError(t, closed.Err, "a normal close is the client's choice")
}

func TestBadUpgradeRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	resp, err := e.ts.Client().Get(e.ts.URL + "/api/v1/tasks/ws")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 400, resp.StatusCode)
	require.Error(t, <-e.served, "ServeStream tells the upgrade failed")
	select {
	case <-e.ended:
	case <-time.After(guard):
		t.Fatal("done was not called")
	}
}

// TestAResumeTellsItsReplay: a session that resumes behind its task tells
// the diagnostics once it has handed over the events the task had, and
// counts them; a live event is not part of it.
func TestAResumeTellsItsReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, ws.Settings{})
	id := e.runningTask(4)
	c := e.dial()
	subscribe(t, c, id, "1")
	confirmed(t, c, id)
	for range 3 {
		f, ce := next(t, c)
		require.Nil(t, ce)
		require.NotEmpty(t, f.EventID)
	}
	e.add(id, taskbridge.EventCompleted)
	ids, ce := events(t, c)
	require.Equal(t, []uint64{5}, ids)
	requireClose(t, ce, gen.CloseNormalClosure, "")
	closed := e.diag.Closed()
	require.True(t, closed.Opened)
	replayed := e.diag.Replayed()
	require.Len(t, replayed, 1)
	require.Equal(t, 3, replayed[0].Events)
	require.Equal(t, uint64(4), replayed[0].Cursor)
	require.Equal(t, "websocket", replayed[0].Transport)
}
