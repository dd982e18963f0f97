package hub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

func newTask(t *testing.T, store *memory.Store, id string) {
	t.Helper()
	_, _, err := store.CreateTask(t.Context(), taskbridge.NewTask{ID: id, Owner: "o", ClientRequestID: id, Type: "job",
		Input: json.RawMessage("null"), Fingerprint: id, CreatedAt: time.Now()})
	require.NoError(t, err)
}

func appendMessage(t *testing.T, store *memory.Store, id string) {
	t.Helper()
	_, err := store.Append(t.Context(), id, taskbridge.Append{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{"message":"m"}`)})
	require.NoError(t, err)
}

func TestNotifyWakesOnlyThatTasksWaiters(t *testing.T) {
	t.Parallel()
	store := memory.New()
	h := hub.New(store, hub.Config{})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	newTask(t, store, "a")
	newTask(t, store, "b")
	<-h.Watching() // from here on no append is missed, and no wake-all is pending

	a, releaseA := h.Notify("a")
	defer releaseA()
	b, releaseB := h.Notify("b")
	defer releaseB()
	appendMessage(t, store, "a")
	<-a
	select {
	case <-b:
		t.Fatal("a waiter of another task woke")
	default:
	}
}

func TestCloseEndsEveryWait(t *testing.T) {
	t.Parallel()
	h := hub.New(memory.New(), hub.Config{})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	ch, release := h.Notify("x")
	defer release()
	h.Close()
	<-ch
	require.True(t, h.Closed())
	require.NoError(t, <-done)
	late, _ := h.Notify("y")
	<-late // already closed: a wait after Close ends at once
}
