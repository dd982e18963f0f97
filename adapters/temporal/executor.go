package temporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/taskbridge-go/taskbridge"
)

// DefaultTaskQueue is the task queue of a task type that names none, when
// Config.TaskQueue is "".
const DefaultTaskQueue = "taskbridge"

// DefaultReportTimeout bounds one try of a report activity when
// Config.ReportTimeout is 0; the Reporter retries an unavailable store for
// a minute within it (services.DefaultReportRetryFor), and Temporal
// retries the activity after it.
const DefaultReportTimeout = 2 * time.Minute

// workflowIDPrefix starts the id of every task's workflow.
const workflowIDPrefix = "taskbridge-task-"

// WorkflowID is the id of the workflow that runs the task: one id per
// task, so a repeated submit never starts a second workflow.
func WorkflowID(taskID string) string { return workflowIDPrefix + taskID }

// TaskIDOf is the task id of a workflow id WorkflowID made; ok is false
// for any other id.
func TaskIDOf(workflowID string) (taskID string, ok bool) {
	return strings.CutPrefix(workflowID, workflowIDPrefix)
}

// Config configures the adapter: an Executor (the submitting side) and a
// Worker (the running side) of one host are built from the same Config.
// The zero value of a field is its documented default.
type Config struct {
	// Client reaches the Temporal service and namespace (the client's);
	// required by both.
	Client client.Client
	// TaskQueue is the task queue of the types that name none; ""
	// is DefaultTaskQueue.
	TaskQueue string
	// Types are the task types. The Executor routes each to its queue and
	// refuses others; the Worker runs their handlers (each needs Run).
	Types []TaskType
	// Reporter and Suspensions serve the Worker's activities (Activities);
	// the Worker requires them.
	Reporter    taskbridge.Reporter
	Suspensions taskbridge.SuspensionStore
	// ReportTimeout bounds one try of a report activity; 0 is
	// DefaultReportTimeout.
	ReportTimeout time.Duration
	// WorkerOptions are passed to every worker the Worker starts.
	WorkerOptions worker.Options
	// Logger receives the reports the Worker's activities could not make
	// for good (refused by the Reporter); nil discards.
	Logger *slog.Logger
}

// queues maps each task type to its task queue, checking the types.
func (cfg Config) queues(needRun bool) (map[string]string, error) {
	def := cmpOr(cfg.TaskQueue, DefaultTaskQueue)
	queues := make(map[string]string, len(cfg.Types))
	for _, t := range cfg.Types {
		switch _, dup := queues[t.Name]; {
		case t.Name == "":
			return nil, errors.New("temporal: a TaskType has an empty Name")
		case dup:
			return nil, fmt.Errorf("temporal: duplicate TaskType %q", t.Name)
		case needRun && t.Run == nil:
			return nil, fmt.Errorf("temporal: TaskType %q has no Run handler", t.Name)
		}
		queues[t.Name] = cmpOr(t.TaskQueue, def)
	}
	return queues, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Executor is the taskbridge.TaskExecutor on Temporal: each task runs as
// one workflow (WorkflowName, id WorkflowID(taskID)) on its type's task
// queue, run by a Worker of any host process. It holds no state of its
// own, so every replica's Executor reaches every task. All methods are
// safe for concurrent use.
type Executor struct {
	client client.Client
	queues map[string]string
}

var _ taskbridge.TaskExecutor = (*Executor)(nil)

// New returns the Executor of cfg. It needs cfg.Client, and fails for a
// type with an empty or duplicate name.
func New(cfg Config) (*Executor, error) {
	if cfg.Client == nil {
		return nil, errors.New("temporal: Config.Client is required")
	}
	queues, err := cfg.queues(false)
	if err != nil {
		return nil, err
	}
	return &Executor{client: cfg.Client, queues: queues}, nil
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Submit starts the task's workflow. A workflow with the task's id that
// runs or ran before (a repeated submit) is left as it is: Submit returns
// nil and starts nothing. It fails with taskbridge.ErrSubmission
// (wrapped) for a type not in Config.Types, a task without an id, or when
// Temporal cannot be reached.
func (e *Executor) Submit(ctx context.Context, t taskbridge.Task) error {
	queue, ok := e.queues[t.Type]
	switch {
	case !ok:
		return fmt.Errorf("%w: %w: %q", taskbridge.ErrSubmission, taskbridge.ErrUnknownTaskType, t.Type)
	case t.ID == "":
		return fmt.Errorf("%w: the task has no id", taskbridge.ErrSubmission)
	}
	opts := client.StartWorkflowOptions{
		ID:        WorkflowID(t.ID),
		TaskQueue: queue,
		// A closed workflow of the task is not started again; a running
		// one is the same submit's.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
	_, err := e.client.ExecuteWorkflow(ctx, opts, WorkflowName, taskInfo(t))
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("%w: temporal: starting the workflow of task %s: %w", taskbridge.ErrSubmission, t.ID, err)
	}
	return nil
}

// Cancel requests the cancellation of the task's workflow; the workflow
// then reports TASK_CANCELLED with the reason the cancel request recorded.
// A repeat returns nil. It returns taskbridge.ErrTaskNotRunning (wrapped)
// when the task has no running workflow.
func (e *Executor) Cancel(ctx context.Context, taskID string) error {
	return e.call(taskID, "cancelling", e.client.CancelWorkflow(ctx, WorkflowID(taskID), ""))
}

// Resume signals the outcome of a suspension to the task's workflow
// (SignalResume). The workflow takes the first outcome of the suspension
// it waits on and drops the rest, so Resume is idempotent. It returns
// taskbridge.ErrTaskNotRunning (wrapped) when the task has no running
// workflow.
func (e *Executor) Resume(ctx context.Context, r taskbridge.Resume) error {
	return e.call(r.TaskID, "resuming", e.client.SignalWorkflow(ctx, WorkflowID(r.TaskID), "", SignalResume, r))
}

// call wraps the error of a client call about a task's workflow.
func (e *Executor) call(taskID, what string, err error) error {
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound):
		return fmt.Errorf("temporal: %s task %s: %w: %w", what, taskID, taskbridge.ErrTaskNotRunning, err)
	case unreachable(err):
		return fmt.Errorf("temporal: %s task %s: %w: %w", what, taskID, taskbridge.ErrUnavailable, err)
	}
	return fmt.Errorf("temporal: %s task %s: %w", what, taskID, err)
}

// unreachable reports whether err says the Temporal service could not be
// reached or did not answer in time.
func unreachable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded)
}
