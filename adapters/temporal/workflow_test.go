package temporal

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// wfTest is one task run in the SDK's test workflow environment, with the
// real activities over a memory store and the real Reporter.
type wfTest struct {
	env   *testsuite.TestWorkflowEnvironment
	store *memory.Store
	rec   *recorder
	task  taskbridge.Task
}

// newWFTest registers types in a test environment and creates a task of
// taskType with input.
func newWFTest(t *testing.T, taskType, input string, types ...TaskType) *wfTest {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	store, rec := newStore(t)
	cfg := Config{Types: types}
	cfg.Register(env, &Activities{Reporter: rec, Suspensions: store, Clock: env.Now})
	task := createTask(t, store, "t1", taskType, input)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: WorkflowID(task.ID)})
	return &wfTest{env: env, store: store, rec: rec, task: task}
}

// execute runs the workflow to its end and returns its error.
func (w *wfTest) execute(t *testing.T) error {
	t.Helper()
	w.env.ExecuteWorkflow(WorkflowName, taskInfo(w.task))
	require.True(t, w.env.IsWorkflowCompleted())
	return w.env.GetWorkflowError()
}

func (w *wfTest) status(t *testing.T) taskbridge.TaskStatus {
	t.Helper()
	task, err := w.store.GetTask(t.Context(), w.task.ID)
	require.NoError(t, err)
	return task.Status
}

func TestReportsInOrderWithDistinctKeys(t *testing.T) {
	t.Parallel()
	greet := TaskType{Name: "greet", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
		if err := run.Progress(ctx, taskbridge.Progress{Percent: 50, Stage: "half"}); err != nil {
			return nil, err
		}
		if err := run.Message(ctx, taskbridge.Message{Text: "hello", Level: "info"}); err != nil {
			return nil, err
		}
		return json.RawMessage(`"hi ` + run.Task().ID + `"`), nil
	}}
	w := newWFTest(t, "greet", "null", greet)
	require.NoError(t, w.execute(t))

	types, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventProgress,
		taskbridge.EventMessage, taskbridge.EventCompleted}, types)
	require.Equal(t, "hi t1", field(t, payloads[3], "result"))
	wid := WorkflowID(w.task.ID)
	require.Equal(t, []call{{"Start", wid + "/1"}, {"Progress", wid + "/2"}, {"Message", wid + "/3"}, {"Complete", wid + "/4"}}, w.rec.Calls())
}

func TestARetriedReportIsStoredOnce(t *testing.T) {
	t.Parallel()
	typ := TaskType{Name: "p", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
		return nil, run.Progress(ctx, taskbridge.Progress{Percent: 10})
	}}
	w := newWFTest(t, "p", "null", typ)
	w.rec.failOnce = true // every report is made, then its activity fails and is retried
	require.NoError(t, w.execute(t))

	types, _ := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventProgress, taskbridge.EventCompleted}, types)
	wid := WorkflowID(w.task.ID)
	require.Equal(t, []call{{"Start", wid + "/1"}, {"Start", wid + "/1"}, {"Progress", wid + "/2"}, {"Progress", wid + "/2"},
		{"Complete", wid + "/3"}, {"Complete", wid + "/3"}}, w.rec.Calls())
}

// approve suspends once (SuspendID chosen by the workflow unless given)
// and completes with the action type it got, or fails with
// SUSPENSION_EXPIRED.
func approve(expiresIn time.Duration) TaskType {
	return TaskType{Name: "approve", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
		req := taskbridge.SuspendRequest{Kind: "USER_ACTION_REQUIRED", ReasonCode: "APPROVAL", AllowedActions: []string{"approve", "reject"}}
		if expiresIn > 0 {
			req.ExpiresAt = workflow.Now(ctx).Add(expiresIn)
		}
		action, err := run.Suspend(ctx, req)
		if errors.Is(err, taskbridge.ErrSuspensionExpired) {
			return nil, &taskbridge.Failure{Code: "SUSPENSION_EXPIRED", Message: err.Error()}
		}
		if err != nil {
			return nil, err
		}
		return json.Marshal(action.ActionType)
	}}
}

func TestSuspensionResumedBySignal(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "approve", "null", approve(0))
	w.env.RegisterDelayedCallback(func() {
		// An outcome for another suspension is dropped; the one for s2
		// (TASK_SUSPENDED is the second report) resumes the task; its
		// repeat is dropped too.
		w.env.SignalWorkflow(SignalResume, taskbridge.Resume{TaskID: w.task.ID, SuspendID: "other"})
		rc := accept(t, w.store, w.task.ID, "s2", "reject", w.env.Now())
		w.env.SignalWorkflow(SignalResume, taskbridge.Resume{TaskID: w.task.ID, SuspendID: "s2", Action: rc})
		w.env.SignalWorkflow(SignalResume, taskbridge.Resume{TaskID: w.task.ID, SuspendID: "s2"})
	}, time.Hour)
	require.NoError(t, w.execute(t))

	types, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventSuspended,
		taskbridge.EventActionAccepted, taskbridge.EventCompleted}, types)
	require.Equal(t, "s2", field(t, payloads[1], "suspendId"))
	require.Equal(t, "reject", field(t, payloads[3], "result"))
}

func TestASignalForAnotherSuspensionKeepsTheTaskWaiting(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "approve", "null", approve(0))
	w.env.RegisterDelayedCallback(func() {
		w.env.SignalWorkflow(SignalResume, taskbridge.Resume{TaskID: w.task.ID, SuspendID: "s9", Action: &taskbridge.ActionReceipt{}})
	}, time.Minute)
	w.env.RegisterDelayedCallback(func() {
		// Still waiting an hour later: no terminal event yet.
		require.Equal(t, taskbridge.StatusRunning, w.status(t))
		rc := accept(t, w.store, w.task.ID, "s2", "approve", w.env.Now())
		w.env.SignalWorkflow(SignalResume, taskbridge.Resume{TaskID: w.task.ID, SuspendID: "s2", Action: rc})
	}, time.Hour)
	require.NoError(t, w.execute(t))
	_, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, "approve", field(t, payloads[len(payloads)-1], "result"))
}

func TestSuspensionExpiresByItsTimer(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "approve", "null", approve(time.Hour))
	require.NoError(t, w.execute(t))

	types, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventSuspended, taskbridge.EventFailed}, types)
	require.Equal(t, "SUSPENSION_EXPIRED", field(t, payloads[2], "code"))
	s, err := w.store.GetSuspension(t.Context(), w.task.ID, "s2")
	require.NoError(t, err)
	require.Equal(t, taskbridge.SuspensionExpired, s.State)
	require.True(t, s.HandedOff, "the workflow took the expiry, so no reconciler offers it again")
}

func TestAnActionAcceptedBeforeTheTimerWinsOverExpiry(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "approve", "null", approve(time.Hour))
	w.env.RegisterDelayedCallback(func() {
		// Accepted by the store, but its hand-off never reached the
		// workflow (the replica died): the timer's expiry asks the store,
		// which answers with the action.
		accept(t, w.store, w.task.ID, "s2", "approve", w.env.Now())
	}, 59*time.Minute)
	require.NoError(t, w.execute(t))

	_, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, "approve", field(t, payloads[len(payloads)-1], "result"))
	s, err := w.store.GetSuspension(t.Context(), w.task.ID, "s2")
	require.NoError(t, err)
	require.Equal(t, taskbridge.SuspensionResolved, s.State)
	require.True(t, s.HandedOff)
}

func TestAnExpirySignalEndsTheWait(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "approve", "null", approve(0))
	w.env.RegisterDelayedCallback(func() {
		w.env.SignalWorkflow(SignalResume, taskbridge.Resume{TaskID: w.task.ID, SuspendID: "s2"})
	}, time.Minute)
	require.NoError(t, w.execute(t))
	_, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, "SUSPENSION_EXPIRED", field(t, payloads[len(payloads)-1], "code"))
}

func TestCancellationReportsTaskCancelledWithTheReason(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "approve", "null", approve(0))
	w.env.RegisterDelayedCallback(func() {
		_, err := w.store.RequestCancel(t.Context(), w.task.ID, "changed my mind")
		require.NoError(t, err)
		w.env.CancelWorkflow()
	}, time.Minute)
	err := w.execute(t)
	require.True(t, temporal.IsCanceledError(err), "the workflow ends cancelled: %v", err)

	types, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventSuspended, taskbridge.EventCancelled}, types)
	require.Equal(t, "changed my mind", field(t, payloads[2], "reason"))
}

func TestAHandlerThatIgnoresCancellationStillEndsCancelled(t *testing.T) {
	t.Parallel()
	stubborn := TaskType{Name: "stubborn", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
		_ = workflow.Sleep(ctx, time.Hour) // cancelled early; carries on
		return json.RawMessage(`"done anyway"`), nil
	}}
	w := newWFTest(t, "stubborn", "null", stubborn)
	w.env.RegisterDelayedCallback(w.env.CancelWorkflow, time.Minute)
	require.Error(t, w.execute(t))
	types, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, taskbridge.EventCancelled, types[len(types)-1])
	require.Equal(t, "cancelled_by_user", field(t, payloads[len(payloads)-1], "reason"))
}

func TestFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		code      string
		retryable bool
	}{
		{"failure keeps its code", &taskbridge.Failure{Code: "QUOTA", Message: "over quota", Retryable: true}, "QUOTA", true},
		{"wrapped failure", fmt.Errorf("step 3: %w", &taskbridge.Failure{Code: "BAD_STEP", Message: "no"}), "BAD_STEP", false},
		{"other error", errors.New("boom"), CodeHandlerError, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			typ := TaskType{Name: "f", Run: func(workflow.Context, Run) (json.RawMessage, error) { return nil, tc.err }}
			w := newWFTest(t, "f", "null", typ)
			require.NoError(t, w.execute(t), "a failed task is a completed workflow")
			types, payloads := events(t, w.store, w.task.ID)
			require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventFailed}, types)
			require.Equal(t, tc.code, field(t, payloads[1], "code"))
			require.Equal(t, tc.retryable, field(t, payloads[1], "retryable"))
		})
	}
}

func TestAFinalReportRefusedFailsTheTask(t *testing.T) {
	t.Parallel()
	typ := TaskType{Name: "bad", Run: func(workflow.Context, Run) (json.RawMessage, error) {
		return json.RawMessage(`{not json`), nil
	}}
	w := newWFTest(t, "bad", "null", typ)
	require.NoError(t, w.execute(t))
	types, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventFailed}, types)
	require.Equal(t, CodeInvalidReport, field(t, payloads[1], "code"))
}

func TestAnInvalidReportIsAnInvalidInputErrorForTheHandler(t *testing.T) {
	t.Parallel()
	typ := TaskType{Name: "p", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
		err := run.Progress(ctx, taskbridge.Progress{Percent: 150})
		var invalid *taskbridge.InvalidInputError
		if !errors.As(err, &invalid) {
			return nil, fmt.Errorf("want an InvalidInputError, got %v", err)
		}
		return json.Marshal(invalid.Field)
	}}
	w := newWFTest(t, "p", "null", typ)
	require.NoError(t, w.execute(t))
	types, _ := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventCompleted}, types)
}

func TestTyped(t *testing.T) {
	t.Parallel()
	type in struct {
		Name  string `json:"name"`
		Extra any    `json:"extra"`
	}
	typ := TaskType{Name: "typed", Run: Typed(func(ctx workflow.Context, in in, run Run) (map[string]any, error) {
		_, exact := in.Extra.(json.Number)
		return map[string]any{"hello": in.Name, "exact": exact}, nil
	})}

	w := newWFTest(t, "typed", `{"name":"bob","extra":12345678901234567890}`, typ)
	require.NoError(t, w.execute(t))
	_, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, map[string]any{"hello": "bob", "exact": true}, field(t, payloads[1], "result"))

	w = newWFTest(t, "typed", `{"name":7}`, typ)
	require.NoError(t, w.execute(t))
	_, payloads = events(t, w.store, w.task.ID)
	require.Equal(t, CodeInvalidInput, field(t, payloads[1], "code"))
}

func TestAnUnknownTaskTypeFailsWithoutStarting(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "nobody-knows", "null", TaskType{Name: "greet", Run: approve(0).Run})
	require.NoError(t, w.execute(t))
	types, payloads := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventFailed}, types)
	require.Equal(t, CodeUnknownTaskType, field(t, payloads[0], "code"))
}

func TestATaskCancelledBeforeItStartedRunsNothing(t *testing.T) {
	t.Parallel()
	ran := false
	typ := TaskType{Name: "x", Run: func(workflow.Context, Run) (json.RawMessage, error) { ran = true; return nil, nil }}
	w := newWFTest(t, "x", "null", typ)
	_, err := w.store.RequestCancel(t.Context(), w.task.ID, "too late")
	require.NoError(t, err)
	require.NoError(t, w.rec.Cancelled(t.Context(), w.task.ID))
	require.NoError(t, w.execute(t))
	require.False(t, ran)
	types, _ := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventCancelled}, types)
}

func TestACancelAtOnceEndsTheTaskCancelled(t *testing.T) {
	t.Parallel()
	w := newWFTest(t, "approve", "null", approve(0))
	w.env.RegisterDelayedCallback(w.env.CancelWorkflow, 0)
	require.Error(t, w.execute(t))
	types, _ := events(t, w.store, w.task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventCancelled}, types, "cancelled before TASK_STARTED")
}
