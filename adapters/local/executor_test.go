package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

// call is one recorded Reporter call.
type call struct {
	Method   string
	Progress taskbridge.Progress
	Message  taskbridge.Message
	Suspend  taskbridge.SuspendRequest
	Result   json.RawMessage
	Failure  taskbridge.Failure
}

// fakeReporter records every call per task, like a store refuses anything
// after a terminal event, and lets a test hook into Suspend. Safe for
// concurrent use.
type fakeReporter struct {
	// onSuspend, when set, runs inside Suspend after the call is recorded.
	onSuspend func(taskID string, req taskbridge.SuspendRequest)
	// fail, when set, picks the error a call returns.
	fail func(taskID, method string) error

	mu     sync.Mutex
	calls  map[string][]call
	ended  map[string]chan struct{}
	suspCh map[string]chan taskbridge.SuspendRequest
}

func newFakeReporter() *fakeReporter {
	return &fakeReporter{
		calls:  make(map[string][]call),
		ended:  make(map[string]chan struct{}),
		suspCh: make(map[string]chan taskbridge.SuspendRequest),
	}
}

func (f *fakeReporter) endedCh(taskID string) chan struct{} {
	ch, ok := f.ended[taskID]
	if !ok {
		ch = make(chan struct{})
		f.ended[taskID] = ch
	}
	return ch
}

func (f *fakeReporter) suspendedCh(taskID string) chan taskbridge.SuspendRequest {
	ch, ok := f.suspCh[taskID]
	if !ok {
		ch = make(chan taskbridge.SuspendRequest, 16)
		f.suspCh[taskID] = ch
	}
	return ch
}

// done is closed when the task has its terminal report.
func (f *fakeReporter) done(taskID string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endedCh(taskID)
}

// suspended delivers each suspension the task reports.
func (f *fakeReporter) suspended(taskID string) <-chan taskbridge.SuspendRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.suspendedCh(taskID)
}

// record appends c unless the task has ended.
func (f *fakeReporter) record(taskID string, c call) error {
	if f.fail != nil {
		if err := f.fail(taskID, c.Method); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.endedCh(taskID)
	select {
	case <-ch:
		return fmt.Errorf("fake: %s after the end of %s: %w", c.Method, taskID, taskbridge.ErrTaskEnded)
	default:
	}
	f.calls[taskID] = append(f.calls[taskID], c)
	switch c.Method {
	case "Complete", "Fail", "Cancelled":
		close(ch)
	case "Suspend":
		f.suspendedCh(taskID) <- c.Suspend
	}
	return nil
}

func (f *fakeReporter) get(taskID string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls[taskID]...)
}

// methods lists the task's calls by method.
func (f *fakeReporter) methods(taskID string) []string {
	var m []string
	for _, c := range f.get(taskID) {
		m = append(m, c.Method)
	}
	return m
}

// last is the task's last call.
func (f *fakeReporter) last(t *testing.T, taskID string) call {
	t.Helper()
	calls := f.get(taskID)
	require.NotEmpty(t, calls, "task %s has no calls", taskID)
	return calls[len(calls)-1]
}

func (f *fakeReporter) Start(_ context.Context, id, _ string) error {
	return f.record(id, call{Method: "Start"})
}

func (f *fakeReporter) Progress(_ context.Context, id string, p taskbridge.Progress) error {
	return f.record(id, call{Method: "Progress", Progress: p})
}

func (f *fakeReporter) Message(_ context.Context, id string, m taskbridge.Message) error {
	return f.record(id, call{Method: "Message", Message: m})
}

func (f *fakeReporter) Suspend(_ context.Context, id string, s taskbridge.SuspendRequest) (taskbridge.Suspension, error) {
	if err := f.record(id, call{Method: "Suspend", Suspend: s}); err != nil {
		return taskbridge.Suspension{}, err
	}
	if f.onSuspend != nil {
		f.onSuspend(id, s)
	}
	return taskbridge.Suspension{TaskID: id, SuspendID: s.SuspendID, AllowedActions: s.AllowedActions, State: taskbridge.SuspensionOpen}, nil
}

func (f *fakeReporter) Complete(_ context.Context, id string, result json.RawMessage) error {
	return f.record(id, call{Method: "Complete", Result: result})
}

func (f *fakeReporter) Fail(_ context.Context, id string, fl taskbridge.Failure) error {
	return f.record(id, call{Method: "Fail", Failure: fl})
}

func (f *fakeReporter) Cancelled(_ context.Context, id string) error {
	return f.record(id, call{Method: "Cancelled"})
}

var _ taskbridge.Reporter = (*fakeReporter)(nil)

func task(id, typ string) taskbridge.Task {
	return taskbridge.Task{NewTask: taskbridge.NewTask{ID: id, Type: typ, Input: json.RawMessage(`null`)}, Status: taskbridge.StatusAccepted}
}

// fn is a task type running h.
func fn(name string, h Handler) TaskType { return TaskType{Name: name, Run: h} }

// blocking returns when ctx ends, with ctx's error.
func blocking(ctx context.Context, _ *Run) (json.RawMessage, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// gated returns when release is closed or sends, with a null result.
func gated(release <-chan struct{}) Handler {
	return func(ctx context.Context, _ *Run) (json.RawMessage, error) {
		<-release
		return nil, nil
	}
}

// suspending waits on one suspension and returns the action type.
func suspending(ctx context.Context, run *Run) (json.RawMessage, error) {
	a, err := run.Suspend(ctx, taskbridge.SuspendRequest{ReasonCode: "R", AllowedActions: []string{"approve", "reject"}})
	if err != nil {
		return nil, err
	}
	return json.Marshal(a.ActionType)
}

func action(taskID, suspendID, actionType string) taskbridge.Resume {
	return taskbridge.Resume{TaskID: taskID, SuspendID: suspendID, Action: &taskbridge.ActionReceipt{
		ActionRequest: taskbridge.ActionRequest{TaskID: taskID, SuspendID: suspendID, ActionType: actionType, ClientActionID: "c-" + actionType},
	}}
}

// newExecutor makes an executor that is shut down, and its goroutines
// awaited, when the test ends. Inside a synctest bubble call it from the
// bubble and let the deferred shutdown run there.
func newExecutor(t *testing.T, rep taskbridge.Reporter, max int, types ...TaskType) *Executor {
	t.Helper()
	e := New(Config{Reporter: rep, MaxConcurrent: max}, types...)
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e
}

func TestCompletesAfterStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var gotTask taskbridge.Task
		e := newExecutor(t, rep, 0, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			gotTask = run.Task()
			if err := run.Progress(ctx, taskbridge.Progress{Percent: 40, Stage: "s"}); err != nil {
				return nil, err
			}
			if err := run.Message(ctx, taskbridge.Message{Text: "hi", Level: "info"}); err != nil {
				return nil, err
			}
			return json.RawMessage(`{"ok":true}`), nil
		}))
		tk := task("t1", "work")
		tk.Input = json.RawMessage(`{"x":1}`)
		require.NoError(t, e.Submit(t.Context(), tk))
		<-rep.done("t1")
		calls := rep.get("t1")
		require.Equal(t, []string{"Start", "Progress", "Message", "Complete"}, rep.methods("t1"))
		require.Equal(t, taskbridge.Progress{Percent: 40, Stage: "s"}, calls[1].Progress)
		require.Equal(t, taskbridge.Message{Text: "hi", Level: "info"}, calls[2].Message)
		require.JSONEq(t, `{"ok":true}`, string(calls[3].Result))
		require.Equal(t, tk, gotTask)
	})
}

func TestFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		handler Handler
		want    taskbridge.Failure
	}{
		{"failure", func(context.Context, *Run) (json.RawMessage, error) {
			return nil, fmt.Errorf("wrapped: %w", &taskbridge.Failure{Code: "NOPE", Message: "no", Retryable: true})
		}, taskbridge.Failure{Code: "NOPE", Message: "no", Retryable: true}},
		{"handler error", func(context.Context, *Run) (json.RawMessage, error) {
			return json.RawMessage(`1`), errors.New("boom")
		}, taskbridge.Failure{Code: CodeHandlerError, Message: "boom"}},
		{"panic", func(context.Context, *Run) (json.RawMessage, error) {
			panic("kaboom")
		}, taskbridge.Failure{Code: CodeHandlerPanic, Message: "the task handler panicked"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rep := newFakeReporter()
				var logs bytes.Buffer
				e := New(Config{Reporter: rep, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, fn("work", c.handler))
				defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
				require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
				<-rep.done("t1")
				require.Equal(t, []string{"Start", "Fail"}, rep.methods("t1"))
				require.Equal(t, c.want, rep.last(t, "t1").Failure)
				if c.name == "panic" {
					require.Contains(t, logs.String(), "task handler panicked")
					require.Contains(t, logs.String(), "kaboom")
				}
			})
		})
	}
}

func TestCancelWhileRunning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var handlerErr error
		e := newExecutor(t, rep, 0, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			<-ctx.Done()
			handlerErr = ctx.Err()
			// What the handler returns does not matter after a cancel.
			return json.RawMessage(`"done anyway"`), nil
		}))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		synctest.Wait()
		require.Equal(t, []string{"Start"}, rep.methods("t1"))
		require.NoError(t, e.Cancel(t.Context(), "t1"))
		require.NoError(t, e.Cancel(t.Context(), "t1"), "a repeat is fine")
		<-rep.done("t1")
		require.ErrorIs(t, handlerErr, context.Canceled)
		require.Equal(t, []string{"Start", "Cancelled"}, rep.methods("t1"))
		synctest.Wait()
		require.ErrorIs(t, e.Cancel(t.Context(), "t1"), taskbridge.ErrTaskNotRunning, "an ended task is not running")
	})
}

func TestCancelWhileWaitingForSlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		release := make(chan struct{})
		var ran atomic.Int32
		e := newExecutor(t, rep, 1,
			fn("hog", gated(release)),
			fn("work", func(context.Context, *Run) (json.RawMessage, error) { ran.Add(1); return nil, nil }))
		require.NoError(t, e.Submit(t.Context(), task("hog", "hog")))
		synctest.Wait()
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		synctest.Wait()
		require.Empty(t, rep.methods("t1"), "no slot yet")
		require.NoError(t, e.Cancel(t.Context(), "t1"))
		<-rep.done("t1")
		require.Equal(t, []string{"Cancelled"}, rep.methods("t1"), "cancelled without TASK_STARTED")
		close(release)
		<-rep.done("hog")
		require.Equal(t, []string{"Start", "Complete"}, rep.methods("hog"))
		require.Zero(t, ran.Load(), "the cancelled handler never ran")
	})
}

func TestCancelWhileSuspended(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var suspendErr error
		e := newExecutor(t, rep, 0, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			_, suspendErr = run.Suspend(ctx, taskbridge.SuspendRequest{ReasonCode: "R", AllowedActions: []string{"a"}})
			return nil, suspendErr
		}))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		s := <-rep.suspended("t1")
		require.NotEmpty(t, s.SuspendID, "the executor picks a suspend id")
		synctest.Wait()
		require.NoError(t, e.Cancel(t.Context(), "t1"))
		<-rep.done("t1")
		require.ErrorIs(t, suspendErr, context.Canceled)
		require.Equal(t, []string{"Start", "Suspend", "Cancelled"}, rep.methods("t1"))
	})
}

// A handler that stops waiting with a ctx of its own goes on running (with
// a slot); the outcome that arrives later is taken and dropped.
func TestSuspendWithTheHandlersOwnDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var suspendErr error
		release := make(chan struct{})
		e := newExecutor(t, rep, 0, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			wait, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			_, suspendErr = run.Suspend(wait, taskbridge.SuspendRequest{SuspendID: "s", ReasonCode: "R", AllowedActions: []string{"a"}})
			if err := run.Message(ctx, taskbridge.Message{Text: "gave up"}); err != nil {
				return nil, err
			}
			<-release
			return json.RawMessage(`"on my own"`), nil
		}))
		start := time.Now()
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		synctest.Wait()
		require.Equal(t, []string{"Start", "Suspend"}, rep.methods("t1"))
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Equal(t, []string{"Start", "Suspend", "Message"}, rep.methods("t1"))
		require.NoError(t, e.Resume(t.Context(), action("t1", "s", "a")), "a late outcome is taken")
		close(release)
		<-rep.done("t1")
		require.ErrorIs(t, suspendErr, context.DeadlineExceeded)
		require.Equal(t, time.Minute, time.Since(start))
		require.Equal(t, []string{"Start", "Suspend", "Message", "Complete"}, rep.methods("t1"))
	})
}

func TestResumeWithAction(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		e := newExecutor(t, rep, 0, fn("work", suspending))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		s := <-rep.suspended("t1")
		require.Equal(t, "R", s.ReasonCode)
		synctest.Wait()
		require.NoError(t, e.Resume(t.Context(), action("t1", s.SuspendID, "approve")))
		<-rep.done("t1")
		require.Equal(t, []string{"Start", "Suspend", "Complete"}, rep.methods("t1"))
		require.JSONEq(t, `"approve"`, string(rep.last(t, "t1").Result))
	})
}

func TestResumeExpired(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var suspendErr error
		e := newExecutor(t, rep, 0, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			_, suspendErr = run.Suspend(ctx, taskbridge.SuspendRequest{SuspendID: "s1", ReasonCode: "R", AllowedActions: []string{"a"}})
			if errors.Is(suspendErr, taskbridge.ErrSuspensionExpired) {
				return nil, &taskbridge.Failure{Code: "EXPIRED", Message: "too late"}
			}
			return nil, suspendErr
		}))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		require.Equal(t, "s1", (<-rep.suspended("t1")).SuspendID, "a given suspend id is kept")
		require.NoError(t, e.Resume(t.Context(), taskbridge.Resume{TaskID: "t1", SuspendID: "s1"}))
		<-rep.done("t1")
		require.ErrorIs(t, suspendErr, taskbridge.ErrSuspensionExpired)
		require.Equal(t, taskbridge.Failure{Code: "EXPIRED", Message: "too late"}, rep.last(t, "t1").Failure)
	})
}

// A Resume that arrives while the Reporter is still appending
// TASK_SUSPENDED (before Suspend starts to wait) is not lost.
func TestResumeRightAfterSuspendedReport(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var e *Executor
		resumed := make(chan error, 1)
		rep.onSuspend = func(taskID string, req taskbridge.SuspendRequest) {
			resumed <- e.Resume(context.Background(), action(taskID, req.SuspendID, "reject"))
		}
		e = newExecutor(t, rep, 0, fn("work", suspending))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		require.NoError(t, <-resumed)
		<-rep.done("t1")
		require.Equal(t, []string{"Start", "Suspend", "Complete"}, rep.methods("t1"))
		require.JSONEq(t, `"reject"`, string(rep.last(t, "t1").Result))
	})
}

func TestResumeIsIdempotent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		release := make(chan struct{})
		var got []string
		e := newExecutor(t, rep, 0, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			for i := range 2 {
				a, err := run.Suspend(ctx, taskbridge.SuspendRequest{SuspendID: "s" + strconv.Itoa(i), ReasonCode: "R", AllowedActions: []string{"a", "b"}})
				if err != nil {
					return nil, err
				}
				got = append(got, a.ActionType)
			}
			<-release
			return nil, nil
		}))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		<-rep.suspended("t1")
		require.NoError(t, e.Resume(t.Context(), action("t1", "s0", "a")))
		require.NoError(t, e.Resume(t.Context(), action("t1", "s0", "a")), "a repeat is nil")
		<-rep.suspended("t1")
		require.NoError(t, e.Resume(t.Context(), action("t1", "s0", "b")), "a later outcome of a taken suspension is nil")
		require.NoError(t, e.Resume(t.Context(), action("t1", "s1", "b")))
		synctest.Wait()
		require.NoError(t, e.Resume(t.Context(), action("t1", "s1", "a")), "a repeat is nil")
		require.ErrorIs(t, e.Resume(t.Context(), action("t1", "nope", "a")), taskbridge.ErrSuspensionNotFound)
		close(release)
		<-rep.done("t1")
		require.Equal(t, []string{"a", "b"}, got)
		synctest.Wait()
		require.ErrorIs(t, e.Resume(t.Context(), action("t1", "s1", "a")), taskbridge.ErrTaskNotRunning, "an ended task is not running")
	})
}

func TestUnknownTasks(t *testing.T) {
	t.Parallel()
	rep := newFakeReporter()
	e := newExecutor(t, rep, 0, fn("free", func(context.Context, *Run) (json.RawMessage, error) { return nil, nil }))
	ctx := t.Context()

	err := e.Submit(ctx, task("t1", "teleport"))
	require.ErrorIs(t, err, taskbridge.ErrSubmission)
	require.ErrorIs(t, err, taskbridge.ErrUnknownTaskType)
	require.ErrorIs(t, e.Submit(ctx, task("", "free")), taskbridge.ErrSubmission)
	require.ErrorIs(t, e.Cancel(ctx, "t1"), taskbridge.ErrTaskNotRunning)
	require.ErrorIs(t, e.Resume(ctx, action("t1", "s", "a")), taskbridge.ErrTaskNotRunning)
	require.Empty(t, rep.methods("t1"))
}

func TestBoundedConcurrency(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const max, tasks = 2, 10
		rep := newFakeReporter()
		var running, peak atomic.Int32
		release := make(chan struct{})
		e := newExecutor(t, rep, max, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			return nil, nil
		}))
		for i := range tasks {
			require.NoError(t, e.Submit(t.Context(), task("t"+strconv.Itoa(i), "work")), "Submit does not block")
		}
		for left := tasks; left > 0; left-- {
			synctest.Wait()
			require.Equal(t, int32(min(max, left)), running.Load(), "with %d tasks left", left)
			release <- struct{}{}
		}
		for i := range tasks {
			<-rep.done("t" + strconv.Itoa(i))
		}
		require.Equal(t, int32(max), peak.Load())
	})
}

func TestSuspendedTasksFreeTheirSlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var active, peak atomic.Int32 // handlers running outside Suspend
		enter := func() {
			n := active.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
		}
		release := make(chan struct{})
		e := newExecutor(t, rep, 1,
			fn("suspend", func(ctx context.Context, run *Run) (json.RawMessage, error) {
				enter()
				active.Add(-1)
				_, err := run.Suspend(ctx, taskbridge.SuspendRequest{SuspendID: "s", ReasonCode: "R", AllowedActions: []string{"a"}})
				enter()
				defer active.Add(-1)
				return nil, err
			}),
			fn("hog", func(ctx context.Context, run *Run) (json.RawMessage, error) {
				enter()
				defer active.Add(-1)
				<-release
				return nil, nil
			}))
		require.NoError(t, e.Submit(t.Context(), task("a", "suspend")))
		<-rep.suspended("a")
		require.NoError(t, e.Submit(t.Context(), task("b", "suspend")))
		<-rep.suspended("b")
		require.NoError(t, e.Submit(t.Context(), task("hog", "hog")))
		synctest.Wait()
		require.Equal(t, []string{"Start"}, rep.methods("hog"), "two suspended tasks do not hold the only slot")

		// Resumed while the hog holds the slot: a waits for it.
		require.NoError(t, e.Resume(t.Context(), action("a", "s", "a")))
		synctest.Wait()
		require.Equal(t, []string{"Start", "Suspend"}, rep.methods("a"))
		close(release)
		<-rep.done("a")
		<-rep.done("hog")
		require.Equal(t, []string{"Start", "Suspend", "Complete"}, rep.methods("a"))
		require.NoError(t, e.Resume(t.Context(), action("b", "s", "a")))
		<-rep.done("b")
		require.Equal(t, int32(1), peak.Load(), "never more than one handler ran outside Suspend")
	})
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		e := New(Config{Reporter: rep, MaxConcurrent: 1}, fn("work", blocking), fn("suspend", suspending))
		require.NoError(t, e.Submit(t.Context(), task("suspended", "suspend")))
		<-rep.suspended("suspended")
		require.NoError(t, e.Submit(t.Context(), task("running", "work")))
		synctest.Wait()
		require.NoError(t, e.Submit(t.Context(), task("waiting", "work")))
		synctest.Wait()

		require.NoError(t, e.Shutdown(t.Context()))
		shutdown := taskbridge.Failure{Code: CodeExecutorShutdown, Message: "the executor shut down before the task ended", Retryable: true}
		for id, want := range map[string][]string{
			"suspended": {"Start", "Suspend", "Fail"},
			"running":   {"Start", "Fail"},
			"waiting":   {"Fail"},
		} {
			require.Equal(t, want, rep.methods(id), id)
			require.Equal(t, shutdown, rep.last(t, id).Failure, id)
		}

		err := e.Submit(t.Context(), task("late", "work"))
		require.ErrorIs(t, err, taskbridge.ErrSubmission)
		require.ErrorIs(t, err, taskbridge.ErrClosed)
		require.NoError(t, e.Shutdown(t.Context()), "Shutdown is idempotent")
	})
}

func TestShutdownGivesUpWithCtx(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		release := make(chan struct{})
		e := New(Config{Reporter: rep}, fn("stubborn", gated(release)))
		require.NoError(t, e.Submit(t.Context(), task("t1", "stubborn")))
		synctest.Wait()

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		require.ErrorIs(t, e.Shutdown(ctx), context.DeadlineExceeded)
		require.Equal(t, []string{"Start"}, rep.methods("t1"))

		close(release)
		require.NoError(t, e.Shutdown(t.Context()), "a second Shutdown keeps waiting")
		require.Equal(t, []string{"Start", "Complete"}, rep.methods("t1"), "work done despite the shutdown completes")
	})
}

func TestReporterErrors(t *testing.T) {
	t.Parallel()
	t.Run("start refused: the handler does not run", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rep := newFakeReporter()
			rep.fail = func(_, method string) error {
				if method == "Start" {
					return taskbridge.ErrTaskEnded
				}
				return nil
			}
			var ran atomic.Bool
			e := New(Config{Reporter: rep}, fn("work", func(context.Context, *Run) (json.RawMessage, error) { ran.Store(true); return nil, nil }))
			require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
			synctest.Wait()
			require.NoError(t, e.Shutdown(t.Context()))
			require.False(t, ran.Load())
			require.Empty(t, rep.methods("t1"))
		})
	})
	t.Run("start failed: the task fails", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rep := newFakeReporter()
			rep.fail = func(_, method string) error {
				if method == "Start" {
					return errors.New("store down")
				}
				return nil
			}
			e := New(Config{Reporter: rep}, fn("work", func(context.Context, *Run) (json.RawMessage, error) { return nil, nil }))
			require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
			synctest.Wait()
			require.NoError(t, e.Shutdown(t.Context()))
			require.Equal(t, []string{"Fail"}, rep.methods("t1"))
			require.Equal(t, CodeStartFailed, rep.last(t, "t1").Failure.Code)
		})
	})
	t.Run("final report refused as invalid", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rep := newFakeReporter()
			rep.fail = func(_, method string) error {
				if method == "Complete" {
					return &taskbridge.InvalidInputError{Field: "/result", Reason: "is not JSON"}
				}
				return nil
			}
			e := New(Config{Reporter: rep}, fn("work", func(context.Context, *Run) (json.RawMessage, error) { return json.RawMessage(`{`), nil }))
			require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
			<-rep.done("t1")
			require.NoError(t, e.Shutdown(t.Context()))
			require.Equal(t, []string{"Start", "Fail"}, rep.methods("t1"))
			require.Equal(t, CodeInvalidReport, rep.last(t, "t1").Failure.Code)
		})
	})
}

func TestRunAfterTheHandlerReturned(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		leaked := make(chan *Run, 1)
		e := New(Config{Reporter: rep}, fn("work", func(_ context.Context, run *Run) (json.RawMessage, error) {
			leaked <- run
			return nil, nil
		}))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		<-rep.done("t1")
		run := <-leaked
		require.ErrorIs(t, run.Progress(t.Context(), taskbridge.Progress{Percent: 1}), taskbridge.ErrTaskEnded)
		_, err := run.Suspend(t.Context(), taskbridge.SuspendRequest{ReasonCode: "R", AllowedActions: []string{"a"}})
		require.ErrorIs(t, err, taskbridge.ErrTaskEnded)
		require.NoError(t, e.Shutdown(t.Context()))
		require.Equal(t, []string{"Start", "Complete"}, rep.methods("t1"))
	})
}

func TestSubmitOfARunningTaskIsANoOp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		var runs atomic.Int32
		release := make(chan struct{})
		e := New(Config{Reporter: rep}, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
			runs.Add(1)
			<-release
			return nil, nil
		}))
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		synctest.Wait()
		require.NoError(t, e.Submit(t.Context(), task("t1", "work")))
		close(release)
		<-rep.done("t1")
		require.NoError(t, e.Shutdown(t.Context()))
		require.Equal(t, int32(1), runs.Load())
		require.Equal(t, []string{"Start", "Complete"}, rep.methods("t1"))
	})
}

func TestNewPanicsOnProgrammingErrors(t *testing.T) {
	t.Parallel()
	ok := fn("a", func(context.Context, *Run) (json.RawMessage, error) { return nil, nil })
	require.Panics(t, func() { New(Config{}, ok) }, "no reporter")
	require.Panics(t, func() { New(Config{Reporter: newFakeReporter()}, ok, ok) }, "duplicate")
	require.Panics(t, func() { New(Config{Reporter: newFakeReporter()}, fn("", ok.Run)) }, "empty name")
	require.Panics(t, func() { New(Config{Reporter: newFakeReporter()}, TaskType{Name: "x"}) }, "no handler")
}

// TestManyTasksRace runs many tasks on real goroutines, with resumes and
// cancels racing the handlers, for the race detector; each task ends with
// exactly one terminal report.
func TestManyTasksRace(t *testing.T) {
	t.Parallel()
	rep := newFakeReporter()
	var e *Executor
	rep.onSuspend = func(taskID string, req taskbridge.SuspendRequest) {
		if n, _ := strconv.Atoi(taskID); n%3 == 0 {
			_ = e.Resume(context.Background(), action(taskID, req.SuspendID, "approve"))
		}
	}
	e = New(Config{Reporter: rep, MaxConcurrent: 4}, fn("work", func(ctx context.Context, run *Run) (json.RawMessage, error) {
		for i := range 3 {
			if err := run.Progress(ctx, taskbridge.Progress{Percent: float64(i)}); err != nil {
				return nil, err
			}
		}
		return suspending(ctx, run)
	}))
	const n = 60
	var wg sync.WaitGroup
	for i := range n {
		id := strconv.Itoa(i)
		require.NoError(t, e.Submit(t.Context(), task(id, "work")))
		switch i % 3 {
		case 1:
			wg.Go(func() { _ = e.Cancel(context.Background(), id) })
		case 2:
			wg.Go(func() {
				s := <-rep.suspended(id)
				_ = e.Resume(context.Background(), action(id, s.SuspendID, "reject"))
				_ = e.Resume(context.Background(), action(id, s.SuspendID, "reject"))
			})
		}
	}
	wg.Wait()
	for i := range n {
		if i%3 != 1 {
			<-rep.done(strconv.Itoa(i))
		}
	}
	require.NoError(t, e.Shutdown(t.Context()))
	for i := range n {
		id := strconv.Itoa(i)
		<-rep.done(id)
		last := rep.last(t, id).Method
		switch i % 3 {
		case 0, 2:
			require.Equal(t, "Complete", last, id)
		case 1:
			require.Equal(t, "Cancelled", last, id)
		}
	}
}

func TestTasksListsWhatTheExecutorHolds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		release := make(chan struct{})
		e := newExecutor(t, rep, 1,
			fn("suspend", func(ctx context.Context, run *Run) (json.RawMessage, error) {
				_, err := run.Suspend(ctx, taskbridge.SuspendRequest{SuspendID: "s", ReasonCode: "R", AllowedActions: []string{"a"}})
				return nil, err
			}),
			fn("hog", func(ctx context.Context, run *Run) (json.RawMessage, error) {
				<-release
				return nil, nil
			}))
		require.Empty(t, e.Tasks())
		require.NoError(t, e.Submit(t.Context(), task("suspended", "suspend")))
		<-rep.suspended("suspended")
		require.NoError(t, e.Submit(t.Context(), task("running", "hog")))
		require.NoError(t, e.Submit(t.Context(), task("waiting", "hog")))
		synctest.Wait()
		require.ElementsMatch(t, []string{"suspended", "running", "waiting"}, e.Tasks())

		close(release)
		require.NoError(t, e.Resume(t.Context(), action("suspended", "s", "a")))
		for _, id := range []string{"suspended", "running", "waiting"} {
			<-rep.done(id)
		}
		synctest.Wait()
		require.Empty(t, e.Tasks(), "a task is let go once its final report was made")
	})
}

// loadRecorder keeps the last load the executor told.
type loadRecorder struct {
	taskbridge.NopMetrics
	mu              sync.Mutex
	queued, running int
}

func (l *loadRecorder) ExecutorLoad(queued, running int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queued, l.running = queued, running
}

func (l *loadRecorder) load() [2]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return [2]int{l.queued, l.running}
}

// TestTheMetricsHearTheLoad: with one slot, a running task and one waiting
// for the slot show as one running and one queued, and nothing once both
// ended.
func TestTheMetricsHearTheLoad(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rep := newFakeReporter()
		metrics := &loadRecorder{}
		release := make(chan struct{})
		e := New(Config{Reporter: rep, MaxConcurrent: 1, Metrics: metrics}, fn("hog", gated(release)))
		defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
		require.NoError(t, e.Submit(t.Context(), task("t1", "hog")))
		synctest.Wait()
		require.Equal(t, [2]int{0, 1}, metrics.load())
		require.NoError(t, e.Submit(t.Context(), task("t2", "hog")))
		synctest.Wait()
		require.Equal(t, [2]int{1, 1}, metrics.load(), "t2 waits for the slot")
		close(release)
		<-rep.done("t1")
		<-rep.done("t2")
		synctest.Wait()
		require.Equal(t, [2]int{0, 0}, metrics.load())
	})
}
