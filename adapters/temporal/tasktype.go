package temporal

import (
	"encoding/json"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/local"
	"github.com/taskbridge-go/taskbridge/bridge"
)

// Failure codes the adapter reports on its own, for outcomes its handlers
// did not describe themselves. The codes the local executor also reports
// have the same values there, so that a client sees one code for one
// outcome whichever executor ran the task.
const (
	// CodeHandlerError: the handler returned an error that is not a *Failure.
	CodeHandlerError = local.CodeHandlerError
	// CodeInvalidReport: the Reporter refused the task's final report as an
	// invalid event (for example a result that is not JSON).
	CodeInvalidReport = local.CodeInvalidReport
	// CodeInvalidInput: the task's input does not decode into its typed
	// handler's input type (Typed).
	CodeInvalidInput = bridge.CodeInvalidInput
	// CodeUnknownTaskType: the workflow reached a worker that has no
	// handler for its task type; it fails without TASK_STARTED.
	CodeUnknownTaskType = "UNKNOWN_TASK_TYPE"
	// CodeWorkflowTerminated, CodeWorkflowTimedOut and CodeWorkflowFailed
	// end a task whose workflow closed outside taskbridge without a
	// terminal event (see Reconciler).
	CodeWorkflowTerminated = "WORKFLOW_TERMINATED"
	CodeWorkflowTimedOut   = "WORKFLOW_TIMED_OUT"
	CodeWorkflowFailed     = "WORKFLOW_FAILED"
)

// TaskInfo is the task a workflow runs, as its handler sees it: what was
// submitted, less the attachments (their bytes stay in the store, out of
// the workflow's history).
type TaskInfo struct {
	ID   string
	Type string
	// Owner is the subject that created the task.
	Owner string
	// Input and Metadata are the task's JSON (null when absent).
	Input    json.RawMessage
	Metadata json.RawMessage
	// CreatedAt is the task's creation time.
	CreatedAt time.Time
	// TraceParent is the W3C traceparent of the create's span, or "".
	TraceParent string
}

// taskInfo is what Submit hands to the workflow.
func taskInfo(t taskbridge.Task) TaskInfo {
	return TaskInfo{ID: t.ID, Type: t.Type, Owner: t.Owner, Input: t.Input, Metadata: t.Metadata,
		CreatedAt: t.CreatedAt, TraceParent: t.TraceParent}
}

// Handler runs one task inside the task's workflow, so it must be
// deterministic workflow code: it waits with workflow timers and does its
// side effects in activities, never with goroutines, the clock or I/O of
// its own (see go.temporal.io/sdk/workflow). It reports through run, with
// a ctx that is cancelled when the task is cancelled. Its return decides
// the terminal event: a nil error completes the task with result (nil is
// null); a *taskbridge.Failure (found with errors.As) fails it with that
// failure; any other error fails it with CodeHandlerError. A cancelled task
// ends with TASK_CANCELLED whatever the handler returns, so a handler may
// simply return ctx.Err().
type Handler func(ctx workflow.Context, run Run) (result json.RawMessage, err error)

// TaskType is a kind of task the adapter runs as a workflow.
type TaskType struct {
	// Name is the task type clients give at create; unique and not empty.
	Name string
	// TaskQueue is the Temporal task queue its workflows run on; "" is
	// Config.TaskQueue. Workers that poll it must register the type.
	TaskQueue string
	// Run does the work; a Worker needs it, an Executor that only submits
	// does not.
	Run Handler
}

// Run is a running task as its Handler sees it, inside the workflow. Its
// methods are workflow code: call them from the handler's coroutine (or
// one it started with workflow.Go), one report at a time, and at most one
// Suspend waiting at a time (the waits share the resume signal).
type Run interface {
	// Task is the task as it was submitted (without attachments).
	Task() TaskInfo
	// Progress reports TASK_PROGRESS.
	Progress(ctx workflow.Context, p taskbridge.Progress) error
	// Message reports TASK_MESSAGE.
	Message(ctx workflow.Context, m taskbridge.Message) error
	// Suspend reports TASK_SUSPENDED (choosing SuspendID "s<n>" when req
	// has none, n being the report's number in the workflow) and waits in
	// the workflow for its outcome: the accepted action, an error wrapping
	// taskbridge.ErrSuspensionExpired when it expired, or ctx's error when
	// the task was cancelled.
	Suspend(ctx workflow.Context, req taskbridge.SuspendRequest) (*taskbridge.ActionReceipt, error)
}

// Typed makes a Handler of a typed one: the task's input is decoded into
// In (an absent input is In's zero value; a number that lands in an any is
// a json.Number, kept exact) and the returned Out is encoded as the
// result. An input that does not decode fails the task with
// CodeInvalidInput.
func Typed[In, Out any](fn func(ctx workflow.Context, in In, run Run) (Out, error)) Handler {
	return func(ctx workflow.Context, run Run) (json.RawMessage, error) {
		in, err := bridge.DecodeInput[In](run.Task().Input)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, in, run)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}
