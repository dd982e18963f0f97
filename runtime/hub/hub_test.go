package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// countingStore counts the reads of a memory store.
type countingStore struct {
	*memory.Store
	reads atomic.Int32
}

func (s *countingStore) ReadAfter(ctx context.Context, taskID string, after uint64, limit, maxBytes int) ([]taskbridge.Event, error) {
	s.reads.Add(1)
	return s.Store.ReadAfter(ctx, taskID, after, limit, maxBytes)
}

// TestAnnouncementsFillTheCache checks that the hub reads announced events
// into the cache before it wakes the readers: a follower that keeps up
// never reads the store again after its first read.
func TestAnnouncementsFillTheCache(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: memory.New()}
	h := hub.New(store, hub.Config{})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	newTask(t, store.Store, "a")
	<-h.Watching()
	appendMessage(t, store.Store, "a")

	followers := []*hub.Follower{h.Follow("a", 0), h.Follow("a", 0)}
	for _, f := range followers {
		defer f.Close()
		events, _, err := f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		require.Len(t, events, 1)
	}
	require.EqualValues(t, 1, store.reads.Load(), "the first read fills the cache for the second follower")

	for i := range 20 {
		_, changed, err := followers[0].Next(t.Context(), 10, 0)
		require.NoError(t, err)
		appendMessage(t, store.Store, "a")
		<-changed
		for _, f := range followers {
			events, _, err := f.Next(t.Context(), 10, 0)
			require.NoError(t, err)
			require.Len(t, events, 1)
			require.Equal(t, uint64(i+2), events[0].ID)
		}
	}
	// The first read, the one that found the end of the history (a read
	// bounded in bytes may stop short of it, so only an empty one tells),
	// then one per announcement, by the hub.
	require.EqualValues(t, 22, store.reads.Load(), "one read per announcement, by the hub, none by the followers")
}

// stallingStore is a memory store whose reads of one task block, once
// stalling is on, until the test releases them, like a database that is
// slow for one query.
type stallingStore struct {
	*memory.Store
	stalled  string
	stalling atomic.Bool
	reading  chan struct{} // gets a token when a stalled read starts
	release  chan struct{} // closed to let stalled reads through
}

func (s *stallingStore) ReadAfter(ctx context.Context, taskID string, after uint64, limit, maxBytes int) ([]taskbridge.Event, error) {
	if taskID == s.stalled && s.stalling.Load() {
		s.reading <- struct{}{}
		<-s.release
	}
	return s.Store.ReadAfter(ctx, taskID, after, limit, maxBytes)
}

// TestASlowReadDelaysNoOtherTask checks that the hub's read of one task's
// announced events does not hold up the announcements of another task.
func TestASlowReadDelaysNoOtherTask(t *testing.T) {
	t.Parallel()
	store := &stallingStore{Store: memory.New(), stalled: "slow", reading: make(chan struct{}, 8), release: make(chan struct{})}
	h := hub.New(store, hub.Config{})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(store.release) }) }
	t.Cleanup(releaseAll) // runs first, so that Run can end
	for _, id := range []string{"slow", "fast"} {
		newTask(t, store.Store, id)
		appendMessage(t, store.Store, id)
	}
	<-h.Watching()

	slow := h.Follow("slow", 0)
	defer slow.Close()
	_, _, err := slow.Next(t.Context(), 10, 0) // fills the cache, so announcements refill it
	require.NoError(t, err)
	fast := h.Follow("fast", 1)
	defer fast.Close()
	_, fastChanged, err := fast.Next(t.Context(), 10, 0)
	require.NoError(t, err)

	store.stalling.Store(true)
	appendMessage(t, store.Store, "slow") // the hub's refill of "slow" now blocks
	<-store.reading
	appendMessage(t, store.Store, "fast")
	timeout := time.After(30 * time.Second) // only turns a hang into a failure
	var events []*hub.Event
	for len(events) == 0 {
		select {
		case <-fastChanged:
		case <-timeout:
			t.Fatal("the fast task's readers were not woken while the slow task's read waited")
		}
		events, fastChanged, err = fast.Next(t.Context(), 10, 0)
		require.NoError(t, err)
	}
	require.Equal(t, uint64(2), events[0].ID, "the fast task's event is delivered while the slow read waits")
	releaseAll()

	events = nil
	for len(events) == 0 {
		var slowChanged <-chan struct{}
		events, slowChanged, err = slow.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		if len(events) == 0 {
			<-slowChanged
		}
	}
	require.Equal(t, uint64(2), events[0].ID)
}

// outageStore is an event store whose appends are announced only when the
// test says so, like a store whose notifications were cut for a while.
type outageStore struct {
	mu        sync.Mutex
	events    []taskbridge.Event
	announces chan taskbridge.Announcement
}

func (s *outageStore) Append(context.Context, string, taskbridge.Append) (taskbridge.Event, error) {
	return taskbridge.Event{}, errors.New("use add")
}

// add appends an event of task "a" without announcing it.
func (s *outageStore) add() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := uint64(len(s.events) + 1)
	s.events = append(s.events, taskbridge.Event{TaskID: "a", ID: id, Type: taskbridge.EventMessage, CreatedAt: time.Now(), Payload: json.RawMessage(`{}`)})
	return id
}

func (s *outageStore) ReadAfter(_ context.Context, _ string, after uint64, limit, _ int) ([]taskbridge.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := min(int(after), len(s.events))
	return slices.Clone(s.events[from:min(len(s.events), from+limit)]), nil
}

func (s *outageStore) WatchAppends(ctx context.Context, fn func(taskbridge.Announcement)) error {
	fn(taskbridge.Announcement{})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case a := <-s.announces:
			fn(a)
		}
	}
}

// TestAnAnnouncementWithoutATaskMakesReadersReread checks that a reader at
// the head of its task, woken by an announcement without a task (the
// store's notifications were down), reads the store again instead of
// trusting the head it knew: the append made during the outage arrives.
func TestAnAnnouncementWithoutATaskMakesReadersReread(t *testing.T) {
	t.Parallel()
	store := &outageStore{announces: make(chan taskbridge.Announcement)}
	h := hub.New(store, hub.Config{})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	<-h.Watching()
	store.add()
	f := h.Follow("a", 0)
	defer f.Close()
	events, _, err := f.Next(t.Context(), 10, 0)
	require.NoError(t, err)
	require.Len(t, events, 1)

	// An announced append arrives through the cache.
	_, changed, err := f.Next(t.Context(), 10, 0)
	require.NoError(t, err)
	store.announces <- taskbridge.Announcement{TaskID: "a", EventID: store.add()}
	<-changed
	events, _, err = f.Next(t.Context(), 10, 0)
	require.NoError(t, err)
	require.Len(t, events, 1)

	// An append during an outage, then the wake-up of every reader.
	_, changed, err = f.Next(t.Context(), 10, 0)
	require.NoError(t, err)
	id := store.add()
	store.announces <- taskbridge.Announcement{}
	<-changed
	events, _, err = f.Next(t.Context(), 10, 0)
	require.NoError(t, err)
	require.Len(t, events, 1, "the append made while notifications were down")
	require.Equal(t, id, events[0].ID)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestWakeUpsOfABusyTaskAreSpacedByTheInterval checks, on the fake clock of
// testing/synctest, that an event after a quiet interval wakes the readers
// at once and that events within the interval wake them once, together, at
// its end.
func TestWakeUpsOfABusyTaskAreSpacedByTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		h := hub.New(store, hub.Config{WakeInterval: 10 * time.Millisecond})
		done := make(chan error, 1)
		go func() { done <- h.Run(t.Context()) }()
		defer func() { h.Close(); require.NoError(t, <-done) }()
		newTask(t, store, "a")
		<-h.Watching()
		f := h.Follow("a", 0)
		defer f.Close()

		_, changed, err := f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		appendMessage(t, store, "a")
		synctest.Wait()
		require.True(t, isClosed(changed), "the first event wakes the reader at once")
		events, _, err := f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		require.Len(t, events, 1)

		_, changed, err = f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		appendMessage(t, store, "a")
		appendMessage(t, store, "a")
		synctest.Wait()
		require.False(t, isClosed(changed), "no second wake-up within the interval")
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		require.True(t, isClosed(changed), "one wake-up at the end of the interval")
		events, _, err = f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		require.Len(t, events, 2, "both events, together")

		time.Sleep(time.Second)
		_, changed, err = f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		appendMessage(t, store, "a")
		synctest.Wait()
		require.True(t, isClosed(changed), "after a quiet interval, at once again")
	})
}

// TestANegativeWakeIntervalWakesOnEveryEvent checks that WakeInterval < 0
// turns the spacing off: each append wakes the readers at once.
func TestANegativeWakeIntervalWakesOnEveryEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		h := hub.New(store, hub.Config{WakeInterval: -1})
		done := make(chan error, 1)
		go func() { done <- h.Run(t.Context()) }()
		defer func() { h.Close(); require.NoError(t, <-done) }()
		newTask(t, store, "a")
		<-h.Watching()
		f := h.Follow("a", 0)
		defer f.Close()
		for i := range 3 {
			_, changed, err := f.Next(t.Context(), 10, 0)
			require.NoError(t, err)
			appendMessage(t, store, "a")
			synctest.Wait()
			require.True(t, isClosed(changed), "append %d wakes the reader at once", i+1)
			events, _, err := f.Next(t.Context(), 10, 0)
			require.NoError(t, err)
			require.Len(t, events, 1)
		}
	})
}

// Reads and batches are bounded in bytes as well as in events, so that a
// task of large events costs a reader a few of them at a time; the first
// event after the cursor comes however large it is.
func TestLargeEventsComeAFewAtATime(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: memory.New()}
	h := hub.New(store, hub.Config{ReadBytes: 2500, CacheBytes: 1})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	newTask(t, store.Store, "a")
	<-h.Watching()
	large := json.RawMessage(`{"message":"` + strings.Repeat("x", 1000-14) + `"}`)
	for range 5 {
		_, err := store.Append(t.Context(), "a", taskbridge.Append{Type: taskbridge.EventMessage, Payload: large})
		require.NoError(t, err)
	}

	f := h.Follow("a", 0)
	defer f.Close()
	var pages [][]uint64
	for f.Cursor() < 5 {
		events, _, err := f.Next(t.Context(), 100, 0)
		require.NoError(t, err)
		var ids []uint64
		for _, e := range events {
			ids = append(ids, e.ID)
		}
		pages = append(pages, ids)
	}
	require.Equal(t, [][]uint64{{1, 2}, {3, 4}, {5}}, pages, "two 1,000-byte payloads fit in 2,500 bytes")

	g := h.Follow("a", 0)
	defer g.Close()
	events, _, err := g.Next(t.Context(), 100, 1)
	require.NoError(t, err)
	require.Len(t, events, 1, "within one byte: the first event, however large")
	reads := store.reads.Load()
	events, _, err = g.Next(t.Context(), 100, 1)
	require.NoError(t, err)
	require.Equal(t, uint64(2), events[0].ID)
	require.Equal(t, reads+1, store.reads.Load(), "a cache of one byte keeps only the newest event: event 2 is read again")
}

// The cache keeps the newest CacheEvents events: a reader within them is
// served from it, one behind them reads the store.
func TestTheCacheKeepsTheNewestEvents(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: memory.New()}
	h := hub.New(store, hub.Config{CacheEvents: 3})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	newTask(t, store.Store, "a")
	<-h.Watching()
	for range 5 {
		appendMessage(t, store.Store, "a")
	}
	next := func(after uint64) []uint64 {
		f := h.Follow("a", after)
		defer f.Close()
		events, _, err := f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		var ids []uint64
		for _, e := range events {
			ids = append(ids, e.ID)
		}
		return ids
	}
	keep := h.Follow("a", 0) // keeps the task's cache alive between the reads
	defer keep.Close()
	require.Equal(t, []uint64{1, 2, 3, 4, 5}, next(0))
	reads := store.reads.Load()
	require.Equal(t, []uint64{3, 4, 5}, next(2), "from the cache")
	require.Equal(t, reads, store.reads.Load())
	require.Equal(t, []uint64{2, 3, 4, 5}, next(1), "behind the cache: from the store")
	require.Equal(t, reads+1, store.reads.Load())
}

// A batch Next returned stays as it was while the cache moves on: readers
// write it out after Next has let go of the cache.
func TestABatchOutlivesTheCacheThatServedIt(t *testing.T) {
	t.Parallel()
	store := memory.New()
	h := hub.New(store, hub.Config{CacheEvents: 3})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	newTask(t, store, "a")
	<-h.Watching()
	appendMessage(t, store, "a")
	f := h.Follow("a", 0) // reads the first event into the cache, then keeps up
	defer f.Close()
	_, _, err := f.Next(t.Context(), 10, 0)
	require.NoError(t, err)

	type batch struct {
		events []*hub.Event
		ids    []uint64 // as they were when served
	}
	var held []batch
	for range 20 {
		_, changed, err := f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		appendMessage(t, store, "a")
		<-changed // the hub read it into the cache
		_, _, err = f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		g := h.Follow("a", f.Cursor()-2) // served from the cache
		events, _, err := g.Next(t.Context(), 10, 0)
		g.Close()
		require.NoError(t, err)
		b := batch{events: events}
		for _, e := range events {
			b.ids = append(b.ids, e.ID)
		}
		held = append(held, b)
	}
	for _, b := range held {
		require.Len(t, b.events, len(b.ids))
		for i, e := range b.events {
			require.NotNil(t, e, "a served event was taken back")
			require.Equal(t, b.ids[i], e.ID, "a served event was overwritten")
		}
	}
}

// Readers that park instead of waiting on Next's channel are called at the
// next wake-up of their task, once each; one that stopped is not, and one
// whose channel closed before it parked is called at once.
func TestParkedReadersAreCalledAtTheNextWakeUp(t *testing.T) {
	t.Parallel()
	store := memory.New()
	h := hub.New(store, hub.Config{WakeInterval: -1})
	done := make(chan error, 1)
	go func() { done <- h.Run(t.Context()) }()
	t.Cleanup(func() { h.Close(); require.NoError(t, <-done) })
	newTask(t, store, "a")
	newTask(t, store, "b")
	<-h.Watching()

	var calls [4]atomic.Int32
	park := func(task string, i int) *hub.Follower {
		f := h.Follow(task, 0)
		t.Cleanup(f.Close)
		events, wait, err := f.Next(t.Context(), 10, 0)
		require.NoError(t, err)
		require.Empty(t, events)
		f.WakeOnChange(wait, func() { calls[i].Add(1) })
		return f
	}
	first, _, stopped := park("a", 0), park("a", 1), park("a", 2)
	other := park("b", 3)
	stopped.StopWake()
	stopped.StopWake() // idempotent

	appendMessage(t, store, "a")
	require.Eventually(t, func() bool { return calls[0].Load() == 1 && calls[1].Load() == 1 }, 10*time.Second, time.Millisecond)
	events, _, err := first.Next(t.Context(), 10, 0)
	require.NoError(t, err)
	require.Len(t, events, 1, "the parked reader finds the event that woke it")
	require.Zero(t, calls[2].Load(), "a reader that stopped was called")
	require.Zero(t, calls[3].Load(), "a reader of another task was called")

	// A channel that closed before the reader parked calls it at once.
	f := h.Follow("a", 1)
	defer f.Close()
	_, wait, err := f.Next(t.Context(), 10, 0)
	require.NoError(t, err)
	require.False(t, isClosed(wait))
	appendMessage(t, store, "a")
	require.Eventually(t, func() bool { return isClosed(wait) }, 10*time.Second, time.Millisecond)
	called := false
	f.WakeOnChange(wait, func() { called = true })
	require.True(t, called, "a reader parked on a closed channel was not called at once")

	// Close calls the parked readers of every task.
	h.Close()
	require.Eventually(t, func() bool { return calls[3].Load() == 1 }, 10*time.Second, time.Millisecond)
	other.StopWake() // after its call: nothing to stop
}
