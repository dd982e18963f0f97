package temporal

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/taskbridge-go/taskbridge"
)

// fakeClient records the calls the Executor makes and answers with err.
// Methods it does not override panic (nil embedded interface).
type fakeClient struct {
	client.Client
	err     error
	started *[]client.StartWorkflowOptions
	signals *[]taskbridge.Resume
}

func (c fakeClient) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, name any, args ...any) (client.WorkflowRun, error) {
	if name != WorkflowName || len(args) != 1 {
		return nil, errors.New("unexpected workflow")
	}
	*c.started = append(*c.started, o)
	return nil, c.err
}

func (c fakeClient) CancelWorkflow(context.Context, string, string) error { return c.err }

func (c fakeClient) SignalWorkflow(_ context.Context, _, _, name string, arg any) error {
	if name == SignalResume {
		*c.signals = append(*c.signals, arg.(taskbridge.Resume))
	}
	return c.err
}

func newFakeExecutor(t *testing.T, err error) (*Executor, *[]client.StartWorkflowOptions, *[]taskbridge.Resume) {
	t.Helper()
	c := fakeClient{err: err, started: new([]client.StartWorkflowOptions), signals: new([]taskbridge.Resume)}
	e, nerr := New(Config{Client: c, TaskQueue: "q", Types: []TaskType{{Name: "a"}, {Name: "b", TaskQueue: "heavy"}}})
	require.NoError(t, nerr)
	return e, c.started, c.signals
}

func TestSubmitStartsOneWorkflowPerTaskOnItsQueue(t *testing.T) {
	t.Parallel()
	e, started, _ := newFakeExecutor(t, nil)
	task := func(id, typ string) taskbridge.Task {
		return taskbridge.Task{NewTask: taskbridge.NewTask{ID: id, Type: typ}}
	}
	require.NoError(t, e.Submit(t.Context(), task("t1", "a")))
	require.NoError(t, e.Submit(t.Context(), task("t2", "b")))
	require.Len(t, *started, 2)
	o := (*started)[0]
	require.Equal(t, "taskbridge-task-t1", o.ID)
	require.Equal(t, "q", o.TaskQueue)
	require.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, o.WorkflowIDReusePolicy)
	require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING, o.WorkflowIDConflictPolicy)
	require.Equal(t, "heavy", (*started)[1].TaskQueue)

	err := e.Submit(t.Context(), task("t3", "zzz"))
	require.ErrorIs(t, err, taskbridge.ErrSubmission)
	require.ErrorIs(t, err, taskbridge.ErrUnknownTaskType)
	require.ErrorIs(t, e.Submit(t.Context(), task("", "a")), taskbridge.ErrSubmission)
}

func TestSubmitOfATaskWhoseWorkflowExistsIsANoOp(t *testing.T) {
	t.Parallel()
	e, _, _ := newFakeExecutor(t, serviceerror.NewWorkflowExecutionAlreadyStarted("exists", "", ""))
	require.NoError(t, e.Submit(t.Context(), taskbridge.Task{NewTask: taskbridge.NewTask{ID: "t1", Type: "a"}}))

	e, _, _ = newFakeExecutor(t, serviceerror.NewUnavailable("down"))
	require.ErrorIs(t, e.Submit(t.Context(), taskbridge.Task{NewTask: taskbridge.NewTask{ID: "t1", Type: "a"}}), taskbridge.ErrSubmission)
}

func TestCancelAndResumeOfAMissingWorkflow(t *testing.T) {
	t.Parallel()
	e, _, signals := newFakeExecutor(t, nil)
	res := taskbridge.Resume{TaskID: "t1", SuspendID: "s2", Action: &taskbridge.ActionReceipt{}}
	require.NoError(t, e.Resume(t.Context(), res))
	require.NoError(t, e.Cancel(t.Context(), "t1"))
	require.Equal(t, []taskbridge.Resume{res}, *signals)

	e, _, _ = newFakeExecutor(t, serviceerror.NewNotFound("workflow execution already completed"))
	require.ErrorIs(t, e.Resume(t.Context(), res), taskbridge.ErrTaskNotRunning)
	require.ErrorIs(t, e.Cancel(t.Context(), "t1"), taskbridge.ErrTaskNotRunning)

	e, _, _ = newFakeExecutor(t, serviceerror.NewUnavailable("down"))
	require.ErrorIs(t, e.Resume(t.Context(), res), taskbridge.ErrUnavailable)
	require.ErrorIs(t, e.Cancel(t.Context(), "t1"), taskbridge.ErrUnavailable)
}
