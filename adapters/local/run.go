package local

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"

	"github.com/taskbridge-go/taskbridge"
)

// Run is one running task as its Handler sees it: the task and the reports
// it may make. A Run's methods report through the executor's Reporter,
// which needs one task's reports to be sequential, so call them from the
// handler's goroutine (they are safe against misuse, not meant for it).
// After the handler returned they fail with taskbridge.ErrTaskEnded.
type Run struct {
	e      *Executor
	task   taskbridge.Task
	typ    TaskType
	ctx    context.Context // the handler's context
	cancel context.CancelCauseFunc
	// reportCtx carries the executor's reports of the task (never
	// cancelled) and, like ctx, the task's run span when tracing.
	reportCtx context.Context
	span      trace.Span // the run's span; a non-recording one without a tracer

	cancelRequested atomic.Bool // set by Executor.Cancel

	reportMu sync.Mutex // serialises reports
	ended    bool       // the handler returned; guarded by reportMu

	mu         sync.Mutex
	slotHeld   bool
	suspending bool               // a Suspend call is in progress
	waiters    map[string]*waiter // every suspension opened, by id
}

// waiter is the hand-off point of one suspension's outcome.
type waiter struct {
	outcome chan taskbridge.Resume // buffered: deliver never blocks
	state   waiterState            // guarded by Run.mu
}

type waiterState int

const (
	waiting   waiterState = iota // Suspend waits (or is about to)
	delivered                    // the outcome was handed over
	abandoned                    // Suspend stopped waiting; a later outcome is dropped
)

// Task returns the task being run, as it was submitted.
func (r *Run) Task() taskbridge.Task { return r.task }

// Progress reports TASK_PROGRESS.
func (r *Run) Progress(ctx context.Context, p taskbridge.Progress) error {
	return r.report(func() error { return r.e.reporter.Progress(ctx, r.task.ID, p) })
}

// Message reports TASK_MESSAGE.
func (r *Run) Message(ctx context.Context, m taskbridge.Message) error {
	return r.report(func() error { return r.e.reporter.Message(ctx, r.task.ID, m) })
}

// Suspend reports TASK_SUSPENDED (choosing a SuspendID when req has none)
// and waits until the suspension's outcome arrives through
// Executor.Resume. It returns the accepted action; an error wrapping
// taskbridge.ErrSuspensionExpired when the suspension expired instead; ctx's error (or
// the task context's, when the task is cancelled or the executor shuts
// down) when it stopped waiting; or the Reporter's error, without waiting.
//
// While it waits the task gives up its concurrency slot, so suspended tasks
// never hold up others; it takes a slot again before it returns. When it
// returns because the task's context ended (cancel or shutdown) it returns
// at once, and the handler runs without a slot: it should return promptly.
// Only one Suspend per task may wait at a time.
func (r *Run) Suspend(ctx context.Context, req taskbridge.SuspendRequest) (*taskbridge.ActionReceipt, error) {
	if req.SuspendID == "" {
		req.SuspendID = rand.Text()
	}
	// The waiter exists before the event does, so that an outcome handed
	// over right after TASK_SUSPENDED is appended cannot be lost.
	w, err := r.openWaiter(req.SuspendID)
	if err != nil {
		return nil, err
	}
	defer r.closeWaiter()
	err = r.report(func() error {
		_, err := r.e.reporter.Suspend(ctx, r.task.ID, req)
		return err
	})
	if err != nil {
		r.abandon(w)
		return nil, err
	}

	r.releaseSlot()
	var out taskbridge.Resume
	select {
	case out = <-w.outcome:
	case <-r.ctx.Done():
		// Cancelled or shut down: return at once, without a slot.
		r.abandon(w)
		return nil, r.ctx.Err()
	case <-ctx.Done():
		// Only the caller stopped waiting: the task goes on, with a slot.
		r.abandon(w)
		if !r.acquireSlot() {
			return nil, r.ctx.Err()
		}
		return nil, ctx.Err()
	}
	if !r.acquireSlot() {
		return nil, r.ctx.Err()
	}
	if out.Expired() {
		return nil, fmt.Errorf("local: suspension %s of task %s: %w", req.SuspendID, r.task.ID, taskbridge.ErrSuspensionExpired)
	}
	return out.Action, nil
}

// report makes one report, unless the handler has returned.
func (r *Run) report(f func() error) error {
	r.reportMu.Lock()
	defer r.reportMu.Unlock()
	if r.ended {
		return fmt.Errorf("local: task %s: its handler has returned: %w", r.task.ID, taskbridge.ErrTaskEnded)
	}
	return f()
}

// finish marks the handler as returned: no report of the Run is made after.
func (r *Run) finish() {
	r.reportMu.Lock()
	r.ended = true
	r.reportMu.Unlock()
}

func (r *Run) openWaiter(suspendID string) (*waiter, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.suspending {
		return nil, fmt.Errorf("local: task %s already waits in Suspend", r.task.ID)
	}
	if _, ok := r.waiters[suspendID]; ok {
		return nil, fmt.Errorf("local: task %s: suspension %q: %w", r.task.ID, suspendID, taskbridge.ErrSuspensionExists)
	}
	w := &waiter{outcome: make(chan taskbridge.Resume, 1)}
	r.waiters[suspendID] = w
	r.suspending = true
	return w, nil
}

func (r *Run) closeWaiter() {
	r.mu.Lock()
	r.suspending = false
	r.mu.Unlock()
}

func (r *Run) abandon(w *waiter) {
	r.mu.Lock()
	if w.state == waiting {
		w.state = abandoned
	}
	r.mu.Unlock()
}

// deliver hands res to its waiter, once.
func (r *Run) deliver(res taskbridge.Resume) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.waiters[res.SuspendID]
	if !ok {
		return fmt.Errorf("local: task %s: suspension %q: %w", r.task.ID, res.SuspendID, taskbridge.ErrSuspensionNotFound)
	}
	if w.state == waiting {
		w.outcome <- res
		w.state = delivered
	}
	return nil
}

// acquireSlot takes a concurrency slot, waiting until one is free or the
// task's context ends (then it reports false).
func (r *Run) acquireSlot() bool {
	r.e.loadChanged(1)
	select {
	case r.e.slots <- struct{}{}:
		r.e.loadChanged(-1)
	case <-r.ctx.Done():
		r.e.loadChanged(-1)
		return false
	}
	r.mu.Lock()
	r.slotHeld = true
	r.mu.Unlock()
	return true
}

// releaseSlot gives the slot back, if the task holds one.
func (r *Run) releaseSlot() {
	r.mu.Lock()
	held := r.slotHeld
	r.slotHeld = false
	r.mu.Unlock()
	if held {
		<-r.e.slots
		r.e.loadChanged(0)
	}
}
