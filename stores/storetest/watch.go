package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var watchCases = []testCase{
	{name: "WatchAnnouncesAppends", run: testWatchAnnouncesAppends},
	{name: "WatchEndsWithContext", run: testWatchEndsWithContext},
	{name: "WatchSaysWhenLive", run: testWatchSaysWhenLive},
}

// testWatchSaysWhenLive requires an Announcement with an empty TaskID as
// soon as the watch is live, with no append at all, so that a reader knows
// from when on no append is missed.
func testWatchSaysWhenLive(t *testing.T, e *env) {
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	live := make(chan taskbridge.Announcement, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.s.WatchAppends(ctx, func(a taskbridge.Announcement) {
			select {
			case live <- a:
			default:
			}
		})
	}()
	select {
	case a := <-live:
		require.Empty(t, a.TaskID, "the first announcement is the empty one")
	case <-time.After(30 * time.Second):
		t.Fatal("no announcement that the watch is live")
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// watch is one running WatchAppends call and what it announced.
type watch struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
	wake   chan struct{}

	inFn    atomic.Int32
	stopped atomic.Bool

	mu       sync.Mutex
	latest   map[string]uint64
	calls    int
	problems []string

	stopOnce sync.Once
	err      error
}

// watch starts WatchAppends on its own goroutine; t.Cleanup stops it.
func (e *env) watch() *watch {
	ctx, cancel := context.WithCancel(e.ctx)
	w := &watch{
		t: e.t, cancel: cancel, done: make(chan error, 1), wake: make(chan struct{}, 1),
		latest: map[string]uint64{},
	}
	go func() { w.done <- e.s.WatchAppends(ctx, w.fn) }()
	e.t.Cleanup(func() { w.stop() })
	return w
}

func (w *watch) fn(a taskbridge.Announcement) {
	if w.inFn.Add(1) != 1 {
		w.problem("fn was called while another call was running")
	}
	defer w.inFn.Add(-1)
	runtime.Gosched() // widens the window in which an overlapping call shows
	if w.stopped.Load() {
		w.problem(fmt.Sprintf("fn was called after WatchAppends returned (%+v)", a))
	}
	w.mu.Lock()
	w.calls++
	if a.TaskID != "" && a.EventID > w.latest[a.TaskID] {
		w.latest[a.TaskID] = a.EventID
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watch) problem(p string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problems = append(w.problems, p)
}

// seen is the newest event id announced for the task.
func (w *watch) seen(taskID string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest[taskID]
}

func (w *watch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls
}

// requireSound requires that fn saw no breach of the contract.
func (w *watch) requireSound() {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Empty(w.t, w.problems)
}

// stop cancels the watch and returns what WatchAppends returned.
func (w *watch) stop() error {
	w.stopOnce.Do(func() {
		w.cancel()
		select {
		case w.err = <-w.done:
			w.stopped.Store(true)
		case <-time.After(guard):
			w.err = fmt.Errorf("WatchAppends did not return after its context ended")
		}
	})
	return w.err
}

// awaitWatching appends messages to the task until the watch announces one,
// so that the watch is known to be live: from then on no append may go
// unannounced.
func (e *env) awaitWatching(w *watch, taskID string) {
	e.t.Helper()
	timeout := time.NewTimer(guard)
	defer timeout.Stop()
	for w.seen(taskID) == 0 {
		e.message(taskID)
		select {
		case <-w.wake:
		case <-time.After(10 * time.Millisecond): // pacing, not an assertion
		case <-timeout.C:
			require.Fail(e.t, "WatchAppends announced none of the appends")
		}
	}
}

func testWatchAnnouncesAppends(t *testing.T, e *env) {
	w := e.watch()
	e.awaitWatching(w, e.runningTask())

	const writers, each = 8, 20
	many, few := e.runningTask(), e.runningTask()
	acted, sid := e.suspendedTask(time.Time{})
	errs := make([]error, writers)
	parallel(writers, func(i int) {
		for range each {
			if _, err := e.s.Append(e.ctx, many, appendOf(taskbridge.EventMessage, "m")); err != nil {
				errs[i] = err
				return
			}
		}
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	for range 4 {
		e.message(few)
	}
	e.add(few, taskbridge.EventCompleted)
	out := e.accept(e.approve(acted, sid, e.base))

	heads := map[string]uint64{
		many:  e.get(many).LastEventID,
		few:   e.get(few).LastEventID,
		acted: out.Event.ID,
	}
	require.Equal(t, uint64(1+writers*each), heads[many])
	waitFor(t, w.wake, func() bool {
		for id, head := range heads {
			if w.seen(id) < head {
				return false
			}
		}
		return true
	}, "every task's newest event must be announced")
	for id, head := range heads {
		require.Equal(t, head, w.seen(id), "an announcement names an appended event")
	}
	w.requireSound()
}

func testWatchEndsWithContext(t *testing.T, e *env) {
	ended, cancel := context.WithCancel(e.ctx)
	cancel()
	past, cancelPast := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
	defer cancelPast()
	for ctx, want := range map[context.Context]error{ended: context.Canceled, past: context.DeadlineExceeded} {
		done := make(chan error, 1)
		go func() { done <- e.s.WatchAppends(ctx, func(taskbridge.Announcement) {}) }()
		select {
		case err := <-done:
			require.ErrorIs(t, err, want, "WatchAppends returns its context's error")
		case <-time.After(guard):
			require.Fail(t, "WatchAppends did not return for an ended context")
		}
	}

	w := e.watch()
	id := e.runningTask()
	e.awaitWatching(w, id)
	require.ErrorIs(t, w.stop(), context.Canceled)
	calls := w.count()

	// Appends after the end reach a live watch but not the ended one.
	live := e.watch()
	e.awaitWatching(live, id)
	last := e.message(id)
	waitFor(t, live.wake, func() bool { return live.seen(id) >= last.ID }, "the live watch must see the append")
	require.Equal(t, calls, w.count(), "fn is not called after WatchAppends returned")
	w.requireSound()
	live.requireSound()
}
