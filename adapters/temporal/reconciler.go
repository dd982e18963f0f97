package temporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/services"
)

// Defaults of the Reconciler.
const (
	DefaultReconcileInterval = time.Minute
	DefaultReconcileLookback = 24 * time.Hour
	// reconcilePage is how many closed workflows one list call returns.
	reconcilePage = 100
)

// Reconciler ends the tasks whose workflow closed outside taskbridge:
// terminated, timed out, failed or cancelled by an operator (or a reset
// gone wrong) without reporting a terminal event. The workflow itself
// reports its task's end before it closes, so a closed workflow whose task
// still lives was stopped from outside. Each pass asks Temporal's
// visibility for the task workflows that closed so in the last Lookback
// and ends each of their tasks that the store still has live and whose
// workflow's latest run is closed (not reset into a new run): TASK_FAILED
// with CodeWorkflowTerminated or CodeWorkflowTimedOut (retryable) or
// CodeWorkflowFailed, and TASK_CANCELLED for a cancelled one. The end is
// reported under a key of the workflow's, so reconcilers on several
// replicas end a task once. The zero value of a field is its default.
type Reconciler struct {
	// Client is the Temporal client of the Executor; required.
	Client client.Client
	// Tasks reads the tasks' status; required.
	Tasks taskbridge.TaskRegistry
	// Reporter ends the tasks; required.
	Reporter taskbridge.Reporter
	// Interval between passes; 0 is DefaultReconcileInterval.
	Interval time.Duration
	// Lookback is how far back a pass looks for closed workflows; 0 is
	// DefaultReconcileLookback. Make it longer than the longest time the
	// reconciler may be down.
	Lookback time.Duration
	// Logger hears of failed passes; nil discards.
	Logger *slog.Logger
}

// Run reconciles at once and then on every interval until ctx ends; then
// it returns ctx's error.
func (r *Reconciler) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	return services.Every(ctx, interval, func(ctx context.Context) { r.Pass(ctx) })
}

// Pass looks at the task workflows that closed abnormally within Lookback,
// checks each of their tasks (Check) and returns how many it ended.
func (r *Reconciler) Pass(ctx context.Context) int {
	log := orDiscard(r.Logger)
	lookback := r.Lookback
	if lookback <= 0 {
		lookback = DefaultReconcileLookback
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut' "+
		"OR ExecutionStatus = 'Failed' OR ExecutionStatus = 'Canceled') AND CloseTime > '%s'",
		WorkflowName, time.Now().Add(-lookback).UTC().Format(time.RFC3339Nano))
	ended := 0
	var token []byte
	for {
		resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: reconcilePage, NextPageToken: token,
		})
		if err != nil {
			if ctx.Err() == nil {
				log.LogAttrs(ctx, slog.LevelError, "listing closed task workflows failed", slog.Any("err", err))
			}
			return ended
		}
		for _, ex := range resp.GetExecutions() {
			taskID, ok := TaskIDOf(ex.GetExecution().GetWorkflowId())
			if !ok {
				continue
			}
			done, err := r.Check(ctx, taskID)
			if err != nil {
				log.LogAttrs(ctx, slog.LevelWarn, "ending a task whose workflow closed failed; retrying next pass",
					slog.String("taskId", taskID), slog.Any("err", err))
			}
			if done {
				ended++
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ended
		}
	}
}

// Check ends the task when it lives in the store while its workflow (the
// latest run of WorkflowID(taskID)) has closed abnormally, and reports
// whether it did. A reset workflow's old run is terminated, but its task
// lives on in the new run, which Check looks at. A host that lists its
// long-running tasks (those RUNNING longer than a setting, say) may call it
// for each. It returns taskbridge.ErrTaskNotRunning (wrapped) for a live
// task that has no workflow.
func (r *Reconciler) Check(ctx context.Context, taskID string) (bool, error) {
	t, err := r.Tasks.GetTask(ctx, taskID)
	switch {
	case errors.Is(err, taskbridge.ErrTaskNotFound):
		return false, nil // removed by retention, or another store's task
	case err != nil:
		return false, err
	case t.Status.IsTerminal():
		return false, nil
	}
	desc, err := r.Client.DescribeWorkflowExecution(ctx, WorkflowID(taskID), "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return false, fmt.Errorf("temporal: task %s: %w: %w", taskID, taskbridge.ErrTaskNotRunning, err)
	case err != nil:
		return false, fmt.Errorf("temporal: describing the workflow of task %s: %w", taskID, err)
	}
	var f taskbridge.Failure
	status := desc.GetWorkflowExecutionInfo().GetStatus()
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		f = taskbridge.Failure{Code: CodeWorkflowTerminated, Message: "the task's workflow was terminated", Retryable: true}
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		f = taskbridge.Failure{Code: CodeWorkflowTimedOut, Message: "the task's workflow timed out", Retryable: true}
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		f = taskbridge.Failure{Code: CodeWorkflowFailed, Message: "the task's workflow failed"}
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
	default:
		return false, nil // running, completed (its end was reported) or continued
	}
	// One key per workflow: reconcilers on several replicas end it once.
	ctx = taskbridge.WithReportKey(ctx, WorkflowID(taskID)+"/reconciled")
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		err = r.Reporter.Cancelled(ctx, taskID)
	} else {
		err = r.Reporter.Fail(ctx, taskID, f)
	}
	if errors.Is(err, taskbridge.ErrTaskEnded) {
		return false, nil
	}
	return err == nil, err
}
