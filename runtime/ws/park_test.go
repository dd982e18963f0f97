package ws_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/internal/parktest"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
)

// The tests of this file do not run in parallel: they count the sessions
// of the whole process that hold a goroutine.

// waitParked waits until no session's control loop holds a goroutine.
func waitParked(t *testing.T) {
	t.Helper()
	parktest.WaitParked(t, "ws.(*session).deliver")
}

// parkAtOnce parks sessions as soon as they have nothing to send, and
// never wakes them for a heartbeat or ping, so that only what a test does
// wakes them.
var parkAtOnce = ws.Settings{ParkAfter: time.Nanosecond, HeartbeatInterval: time.Hour, PingInterval: time.Hour, PongTimeout: 2 * time.Hour}

// parkedSessions subscribes n connections to a running task and waits
// until every session has parked; each connection counts the pings it
// answers in pings.
func parkedSessions(t *testing.T, e *env, n int, pings *atomic.Int32) (string, []*websocket.Conn) {
	t.Helper()
	id := e.runningTask(1)
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c := e.dial()
		c.SetPingHandler(func(data string) error {
			pings.Add(1)
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(guard))
		})
		subscribe(t, c, id, "1")
		confirmed(t, c, id)
		conns[i] = c
	}
	waitParked(t)
	return id, conns
}

// Parked sessions send their heartbeats and pings when due.
func TestParkedSessionsSendHeartbeatsAndPings(t *testing.T) {
	e := newEnv(t, ws.Settings{ParkAfter: time.Nanosecond, HeartbeatInterval: 20 * time.Millisecond, PingInterval: 30 * time.Millisecond})
	var pings atomic.Int32
	_, conns := parkedSessions(t, e, 4, &pings)
	for _, c := range conns {
		for range 2 {
			f, ce := next(t, c)
			require.Nil(t, ce)
			require.Equal(t, gen.FrameTypeHeartbeat, f.Type)
		}
	}
	for pings.Load() == 0 {
		f, ce := next(t, conns[0])
		require.Nil(t, ce)
		require.Equal(t, gen.FrameTypeHeartbeat, f.Type)
	}
}

// Everything else that concerns a parked session takes its control loop up
// again: events, a frame from the peer, the peer's close.
func TestParkedSessionsWakeForEventsAndFrames(t *testing.T) {
	e := newEnv(t, parkAtOnce)
	var pings atomic.Int32
	const n = 8
	id, conns := parkedSessions(t, e, n, &pings)

	// Events reach every parked session, in order.
	for range 3 {
		e.add(id, taskbridge.EventMessage)
	}
	for _, c := range conns {
		for want := uint64(2); want <= 4; want++ {
			require.Equal(t, taskbridge.FormatEventID(want), nextEvent(t, c).EventID)
		}
	}

	// A second subscribe frame to a parked session is refused.
	waitParked(t)
	subscribe(t, conns[0], id, nil)
	_, ce := events(t, conns[0])
	requireClose(t, ce, websocket.ClosePolicyViolation, "INVALID_REQUEST: already subscribed")
	e.waitEnded(1)

	// The peer's close ends a parked session.
	waitParked(t)
	require.NoError(t, conns[1].WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(guard)))
	e.waitEnded(1)

	// The terminal event ends the others with 1000.
	waitParked(t)
	e.add(id, taskbridge.EventCompleted)
	for _, c := range conns[2:] {
		ids, ce := events(t, c)
		require.Equal(t, uint64(5), ids[len(ids)-1])
		requireClose(t, ce, websocket.CloseNormalClosure, "task ended")
	}
	e.waitEnded(n - 2)
	require.Zero(t, pings.Load())
}

// A shutdown reaches parked sessions: they close with 1001 and Shutdown
// returns once they have ended.
func TestShutdownWakesParkedSessions(t *testing.T) {
	e := newEnv(t, parkAtOnce)
	id := e.runningTask(1)
	conns := make([]*websocket.Conn, 4)
	for i := range conns {
		conns[i] = e.dial()
		subscribe(t, conns[i], id, nil)
		confirmed(t, conns[i], id)
	}
	waitParked(t)
	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(t.Context()) }()
	for _, c := range conns {
		_, ce := events(t, c)
		requireClose(t, ce, websocket.CloseGoingAway, "")
	}
	require.NoError(t, <-shut)
	e.waitEnded(len(conns))
}

// So does the hub's end.
func TestHubCloseWakesParkedSessions(t *testing.T) {
	e := newEnv(t, parkAtOnce)
	id := e.runningTask(1)
	c := e.dial()
	subscribe(t, c, id, nil)
	confirmed(t, c, id)
	waitParked(t)
	e.hub.Close()
	_, ce := events(t, c)
	requireClose(t, ce, websocket.CloseGoingAway, "")
	e.waitEnded(1)
}
