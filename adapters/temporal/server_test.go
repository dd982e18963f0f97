package temporal

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// waitFor is the generous guard of every wait on the real server.
const waitFor = 90 * time.Second

// dialTemporal connects to the Temporal server of
// TASKBRIDGE_TEST_TEMPORAL_ADDRESS, in the namespace of
// TASKBRIDGE_TEST_TEMPORAL_NAMESPACE ("default" when unset). Without an
// address the test is skipped, unless CI is set: in CI nothing skips.
func dialTemporal(t *testing.T) (client.Client, string) {
	t.Helper()
	addr := os.Getenv("TASKBRIDGE_TEST_TEMPORAL_ADDRESS")
	if addr == "" {
		msg := "TASKBRIDGE_TEST_TEMPORAL_ADDRESS is unset: the tests against a real Temporal server do not run " +
			"(start one with `temporal server start-dev` and set it to 127.0.0.1:7233)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must run them")
		}
		t.Skip(msg)
	}
	ns := os.Getenv("TASKBRIDGE_TEST_TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: ns,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err, "dialing Temporal at %s", addr)
	t.Cleanup(c.Close)
	return c, ns
}

// host is one host process's part of the adapter: an Executor and a
// running Worker over a memory store, on a task queue of the test's own.
type host struct {
	client    client.Client
	namespace string
	store     *memory.Store
	rec       *recorder
	cfg       Config
	executor  *Executor
	worker    *Worker
}

func newHost(t *testing.T, types ...TaskType) *host {
	t.Helper()
	c, ns := dialTemporal(t)
	store, rec := newStore(t)
	cfg := Config{Client: c, TaskQueue: "taskbridge-test-" + rand.Text(), Types: types, Reporter: rec, Suspensions: store}
	ex, err := New(cfg)
	require.NoError(t, err)
	h := &host{client: c, namespace: ns, store: store, rec: rec, cfg: cfg, executor: ex}
	h.startWorker(t)
	return h
}

// startWorker starts a new Worker, as a new host process would.
func (h *host) startWorker(t *testing.T) {
	t.Helper()
	w, err := NewWorker(h.cfg)
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	h.worker = w
}

// submit creates a task with a fresh id and submits it.
func (h *host) submit(t *testing.T, taskType string) taskbridge.Task {
	t.Helper()
	task := createTask(t, h.store, rand.Text(), taskType, "null")
	require.NoError(t, h.executor.Submit(t.Context(), task))
	return task
}

// until waits until cond holds, within waitFor.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", waitFor, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ended waits until the task ended and returns its history.
func (h *host) ended(t *testing.T, id string) ([]taskbridge.EventType, []json.RawMessage) {
	t.Helper()
	until(t, "task "+id+" to end", func() bool {
		task, err := h.store.GetTask(context.Background(), id)
		require.NoError(t, err)
		return task.Status.IsTerminal()
	})
	return events(t, h.store, id)
}

// suspended waits until the task has an open suspension and returns it.
func (h *host) suspended(t *testing.T, id string) taskbridge.Suspension {
	t.Helper()
	var s taskbridge.Suspension
	until(t, "task "+id+" to suspend", func() bool {
		var ok bool
		var err error
		s, ok, err = h.store.OpenSuspensionOf(context.Background(), id)
		require.NoError(t, err)
		return ok
	})
	return s
}

// replays replays the workflow history of the task on the host's types
// and fails when the workflow does not replay deterministically (its
// reports would then change keys).
func (h *host) replays(t *testing.T, taskID string) {
	t.Helper()
	var history historypb.History
	iter := h.client.GetWorkflowHistory(t.Context(), WorkflowID(taskID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		history.Events = append(history.Events, ev)
	}
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(h.cfg.workflow().run, workflow.RegisterOptions{Name: WorkflowName})
	require.NoError(t, replayer.ReplayWorkflowHistory(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), &history))
}

var greetType = TaskType{Name: "greet", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
	if err := run.Progress(ctx, taskbridge.Progress{Percent: 50}); err != nil {
		return nil, err
	}
	if err := run.Message(ctx, taskbridge.Message{Text: "hello"}); err != nil {
		return nil, err
	}
	return json.RawMessage(`"done"`), nil
}}

var sleepType = TaskType{Name: "sleep", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
	return nil, workflow.Sleep(ctx, 24*time.Hour)
}}

func TestServerCompletesATask(t *testing.T) {
	t.Parallel()
	h := newHost(t, greetType)
	task := h.submit(t, "greet")
	types, payloads := h.ended(t, task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventProgress,
		taskbridge.EventMessage, taskbridge.EventCompleted}, types)
	require.Equal(t, "done", field(t, payloads[3], "result"))
}

func TestServerSubmitTwiceStartsOneWorkflow(t *testing.T) {
	t.Parallel()
	h := newHost(t, greetType)
	task := h.submit(t, "greet")
	require.NoError(t, h.executor.Submit(t.Context(), task), "a repeat while it runs")
	h.ended(t, task.ID)
	require.NoError(t, h.executor.Submit(t.Context(), task), "a repeat after it ended")

	var runs []string
	until(t, "the workflow to be listed as completed", func() bool {
		resp, err := h.client.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: "WorkflowId = '" + WorkflowID(task.ID) + "'"})
		require.NoError(t, err)
		runs = runs[:0]
		completed := false
		for _, ex := range resp.GetExecutions() {
			runs = append(runs, ex.GetExecution().GetRunId())
			completed = completed || ex.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
		}
		return completed
	})
	require.Len(t, runs, 1)
	types, _ := events(t, h.store, task.ID)
	require.Len(t, types, 4)
}

func TestServerSuspensionSurvivesAWorkerRestart(t *testing.T) {
	t.Parallel()
	h := newHost(t, approve(0))
	task := h.submit(t, "approve")
	s := h.suspended(t, task.ID)

	// Every worker stops; the suspension waits in Temporal. A new host
	// process takes the action.
	require.NoError(t, h.worker.Shutdown(t.Context()))
	rc := accept(t, h.store, task.ID, s.SuspendID, "approve", time.Now())
	require.NoError(t, h.executor.Resume(t.Context(), taskbridge.Resume{TaskID: task.ID, SuspendID: s.SuspendID, Action: rc}))
	require.NoError(t, h.executor.Resume(t.Context(), taskbridge.Resume{TaskID: task.ID, SuspendID: s.SuspendID, Action: rc}), "a repeat")
	h.startWorker(t)

	types, payloads := h.ended(t, task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventSuspended,
		taskbridge.EventActionAccepted, taskbridge.EventCompleted}, types)
	require.Equal(t, "approve", field(t, payloads[3], "result"))
	// The workflow closes just after its final report: from then on there
	// is no task to resume.
	until(t, "a Resume to find the workflow closed", func() bool {
		err := h.executor.Resume(t.Context(), taskbridge.Resume{TaskID: task.ID, SuspendID: s.SuspendID, Action: rc})
		if err != nil {
			require.ErrorIs(t, err, taskbridge.ErrTaskNotRunning)
		}
		return err != nil
	})
	h.replays(t, task.ID)
}

func TestServerSuspensionExpires(t *testing.T) {
	t.Parallel()
	h := newHost(t, approve(2*time.Second))
	task := h.submit(t, "approve")
	types, payloads := h.ended(t, task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventSuspended, taskbridge.EventFailed}, types)
	require.Equal(t, "SUSPENSION_EXPIRED", field(t, payloads[2], "code"))
}

func TestServerCancel(t *testing.T) {
	t.Parallel()
	h := newHost(t, approve(0))
	task := h.submit(t, "approve")
	h.suspended(t, task.ID)
	_, err := h.store.RequestCancel(t.Context(), task.ID, "no longer needed")
	require.NoError(t, err)
	require.NoError(t, h.executor.Cancel(t.Context(), task.ID))
	types, payloads := h.ended(t, task.ID)
	require.Equal(t, taskbridge.EventCancelled, types[len(types)-1])
	require.Equal(t, "no longer needed", field(t, payloads[len(payloads)-1], "reason"))

	require.ErrorIs(t, h.executor.Cancel(t.Context(), "no-such-task-"+rand.Text()), taskbridge.ErrTaskNotRunning)

	// Cancelled at once after the submit, before or after it started: it
	// ends cancelled either way.
	task = h.submit(t, "approve")
	_, err = h.store.RequestCancel(t.Context(), task.ID, "oops")
	require.NoError(t, err)
	require.NoError(t, h.executor.Cancel(t.Context(), task.ID))
	types, payloads = h.ended(t, task.ID)
	require.Equal(t, taskbridge.EventCancelled, types[len(types)-1])
	require.Equal(t, "oops", field(t, payloads[len(payloads)-1], "reason"))
}

func TestServerReconcilerEndsATerminatedTask(t *testing.T) {
	t.Parallel()
	h := newHost(t, sleepType)
	r := &Reconciler{Client: h.client, Tasks: h.store, Reporter: h.rec, Lookback: time.Hour}
	byCheck, byPass := h.submit(t, "sleep"), h.submit(t, "sleep")
	for _, task := range []taskbridge.Task{byCheck, byPass} {
		until(t, "task "+task.ID+" to start", func() bool {
			task, err := h.store.GetTask(t.Context(), task.ID)
			require.NoError(t, err)
			return task.Status == taskbridge.StatusRunning
		})
		ended, err := r.Check(t.Context(), task.ID)
		require.NoError(t, err)
		require.False(t, ended, "its workflow runs")
		require.NoError(t, h.client.TerminateWorkflow(t.Context(), WorkflowID(task.ID), "", "operator"))
	}

	ended, err := r.Check(t.Context(), byCheck.ID)
	require.NoError(t, err)
	require.True(t, ended)
	// The visibility store lists the closed workflow a little later: a
	// running reconciler ends the task at one of its passes.
	r.Interval = 20 * time.Millisecond
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { // also when the wait below fails the test
		stop()
		require.ErrorIs(t, <-done, context.Canceled)
	})
	until(t, "a pass to end the other task", func() bool {
		task, err := h.store.GetTask(t.Context(), byPass.ID)
		require.NoError(t, err)
		return task.Status.IsTerminal()
	})
	for _, task := range []taskbridge.Task{byCheck, byPass} {
		types, payloads := events(t, h.store, task.ID)
		require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventFailed}, types)
		require.Equal(t, CodeWorkflowTerminated, field(t, payloads[1], "code"))
		require.Equal(t, true, field(t, payloads[1], "retryable"))
	}
	ended, err = r.Check(t.Context(), byCheck.ID)
	require.NoError(t, err)
	require.False(t, ended, "already ended")
	ended, err = r.Check(t.Context(), "no-such-task-"+rand.Text())
	require.NoError(t, err)
	require.False(t, ended, "not a task of this store")
	never := createTask(t, h.store, rand.Text(), "sleep", "null")
	_, err = r.Check(t.Context(), never.ID)
	require.True(t, errors.Is(err, taskbridge.ErrTaskNotRunning), "a live task without a workflow: %v", err)
}

func TestServerReconcilerLeavesAResetTaskRunning(t *testing.T) {
	t.Parallel()
	h := newHost(t, sleepType)
	r := &Reconciler{Client: h.client, Tasks: h.store, Reporter: h.rec, Lookback: time.Hour}
	task := h.submit(t, "sleep")
	wid := WorkflowID(task.ID)
	until(t, "task "+task.ID+" to start", func() bool {
		task, err := h.store.GetTask(t.Context(), task.ID)
		require.NoError(t, err)
		return task.Status == taskbridge.StatusRunning
	})

	// Reset to the end of the first workflow task: the old run is
	// terminated, a new run carries on (its TASK_STARTED is the old one's
	// key, stored once).
	var firstTask int64
	until(t, "the handler to sleep", func() bool {
		iter := h.client.GetWorkflowHistory(t.Context(), wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		timer := false
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(t, err)
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && firstTask == 0 {
				firstTask = ev.GetEventId()
			}
			timer = timer || ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED
		}
		return timer
	})
	desc, err := h.client.DescribeWorkflowExecution(t.Context(), wid, "")
	require.NoError(t, err)
	oldRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	_, err = h.client.ResetWorkflowExecution(t.Context(), &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 h.namespace,
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: wid, RunId: oldRun},
		Reason:                    "test",
		WorkflowTaskFinishEventId: firstTask,
		RequestId:                 rand.Text(),
	})
	require.NoError(t, err)

	until(t, "visibility to list the terminated old run", func() bool {
		resp, err := h.client.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: "WorkflowId = '" + wid + "' AND ExecutionStatus = 'Terminated'"})
		require.NoError(t, err)
		return len(resp.GetExecutions()) > 0
	})
	r.Pass(t.Context())
	ended, err := r.Check(t.Context(), task.ID)
	require.NoError(t, err)
	require.False(t, ended)
	types, _ := events(t, h.store, task.ID)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted}, types, "the reset task lives on")
	require.NoError(t, h.client.TerminateWorkflow(t.Context(), wid, "", "test over"))
}
