package sse_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/internal/parktest"
	"github.com/taskbridge-go/taskbridge/runtime/sse"
)

// The tests of this file do not run in parallel: they count the streams of
// the whole process that hold a goroutine.

// deliver is the function a stream's loop runs in.
const deliver = "sse.(*stream).deliver"

// waitParked waits until no stream's loop holds a goroutine.
func waitParked(t *testing.T) {
	t.Helper()
	parktest.WaitParked(t, deliver)
}

// parkAtOnce parks streams as soon as they have nothing to send, and never
// wakes them for a heartbeat, so that only what a test does wakes them.
var parkAtOnce = sse.Settings{ParkAfter: time.Nanosecond, HeartbeatInterval: time.Hour}

// Idle streams give up their loop's goroutine, and the next event, the
// client's hanging up and the task's end take it up again.
func TestParkedStreamsWakeForEventsAndHangUps(t *testing.T) {
	f := newFixture(t, parkAtOnce)
	task := f.task(t)
	const n = 4
	bodies := make([]func() error, n)
	nexts := make([]func() (frame, bool), n)
	for i := range n {
		res, next := f.open(t, task, 0)
		next() // retry
		bodies[i], nexts[i] = res.Body.Close, next
	}
	waitParked(t)

	f.message(t, task, "hello")
	for _, next := range nexts {
		fr, ok := next()
		require.True(t, ok)
		require.Equal(t, "1", fr.id)
	}

	waitParked(t)
	require.NoError(t, bodies[0]())
	require.Equal(t, task, <-f.ended, "the hang-up of a parked stream's client ends it")
	require.Equal(t, taskbridge.StreamClientGone, f.diag.Closed().Reason)

	waitParked(t)
	f.complete(t, task)
	for _, next := range nexts[1:] {
		fr, ok := next()
		require.True(t, ok)
		require.Equal(t, "2", fr.id)
		_, ok = next()
		require.False(t, ok, "the stream ends after the terminal event")
	}
	for range n - 1 {
		require.Equal(t, task, <-f.ended)
	}
}

// A parked stream writes its heartbeats when due.
func TestParkedStreamsSendHeartbeats(t *testing.T) {
	f := newFixture(t, sse.Settings{ParkAfter: time.Nanosecond, HeartbeatInterval: 20 * time.Millisecond})
	task := f.task(t)
	_, next := f.open(t, task, 0)
	next() // retry
	waitParked(t)
	for range 2 {
		fr, ok := next()
		require.True(t, ok)
		require.Equal(t, "ping", fr.comment)
	}
}

// The hub's shutdown ends parked streams.
func TestHubCloseWakesParkedStreams(t *testing.T) {
	f := newFixture(t, parkAtOnce)
	task := f.task(t)
	_, next := f.open(t, task, 0)
	next() // retry
	waitParked(t)
	f.hub.Close()
	_, ok := next()
	require.False(t, ok)
	require.Equal(t, taskbridge.StreamShutdown, f.diag.Closed().Reason)
}

// A stream served on its request (HTTP/2) keeps its goroutine: the handler
// returns only when the stream has ended.
func TestAStreamOnItsRequestDoesNotPark(t *testing.T) {
	f := newFixture(t, parkAtOnce, true)
	task := f.task(t)
	_, next := f.open(t, task, 0)
	next() // retry
	f.message(t, task, "hello")
	fr, ok := next()
	require.True(t, ok)
	require.Equal(t, "1", fr.id)
	require.Equal(t, 1, parktest.Running(deliver))
	f.complete(t, task)
	require.Equal(t, task, <-f.ended)
}
