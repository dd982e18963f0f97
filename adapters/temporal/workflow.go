package temporal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/taskbridge-go/taskbridge"
)

// taskWorkflow is the workflow of every task: the registered handlers by
// task type and the options of its activities.
type taskWorkflow struct {
	types    map[string]TaskType
	activity workflow.LocalActivityOptions
}

// activityOptions are the options of the report and expiry activities,
// which run as local activities: the worker that runs the workflow task
// runs them and records their outcome in the history, with no round trip
// through the server's activity queue for each (about 80 times the reports
// a second of a regular activity; see BenchmarkReportsOfOneWorkflow). They
// are retried without a bound on attempts (a store outage must not lose a
// report), each try bounded by timeout; when the worker dies, the workflow
// task is retried on another worker, which runs the report again under
// the same key.
func activityOptions(timeout time.Duration) workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}

// run is the workflow function (WorkflowName). It reports TASK_STARTED,
// runs the handler and reports the terminal event. It returns nil when the
// task ended (also when it failed: the failure is the task's, not the
// workflow's), the cancellation error when it was cancelled, and an error
// when a report could not be made at all.
func (w *taskWorkflow) run(ctx workflow.Context, task TaskInfo) error {
	r := &run{task: task, workflowID: workflow.GetInfo(ctx).WorkflowExecution.ID}
	reportCtx := workflow.WithLocalActivityOptions(ctx, w.activity)
	// Final reports run on a context the cancellation does not reach, so
	// that a cancelled task still reports its end.
	final, _ := workflow.NewDisconnectedContext(reportCtx)
	typ, ok := w.types[task.Type]
	if !ok {
		return r.end(final, reportRequest{Kind: reportFail, Failure: &taskbridge.Failure{
			Code: CodeUnknownTaskType, Message: fmt.Sprintf("no worker handler for task type %q", task.Type)}})
	}
	var result json.RawMessage
	err := r.report(reportCtx, reportRequest{Kind: reportStart})
	switch {
	case errors.Is(err, taskbridge.ErrTaskEnded):
		return nil // cancelled (or ended) elsewhere before it started
	case err != nil && ctx.Err() == nil:
		return err
	case err == nil:
		result, err = typ.Run(reportCtx, r)
	}

	var failure *taskbridge.Failure
	switch {
	case ctx.Err() != nil: // also when cancelled before it started
		if err := r.end(final, reportRequest{Kind: reportCancelled}); err != nil {
			return err
		}
		return ctx.Err()
	case err == nil:
		return r.end(final, reportRequest{Kind: reportComplete, Result: result})
	case errors.As(err, &failure):
		return r.end(final, reportRequest{Kind: reportFail, Failure: failure})
	default:
		return r.end(final, reportRequest{Kind: reportFail, Failure: &taskbridge.Failure{Code: CodeHandlerError, Message: err.Error()}})
	}
}

// run is the Run of one workflow.
type run struct {
	task       TaskInfo
	workflowID string
	reports    int // reports made so far; numbers the next one's key
}

var _ Run = (*run)(nil)

func (r *run) Task() TaskInfo { return r.task }

func (r *run) Progress(ctx workflow.Context, p taskbridge.Progress) error {
	return r.report(ctx, reportRequest{Kind: reportProgress, Progress: &p})
}

func (r *run) Message(ctx workflow.Context, m taskbridge.Message) error {
	return r.report(ctx, reportRequest{Kind: reportMessage, Message: &m})
}

func (r *run) Suspend(ctx workflow.Context, req taskbridge.SuspendRequest) (*taskbridge.ActionReceipt, error) {
	if req.SuspendID == "" {
		req.SuspendID = "s" + strconv.Itoa(r.reports+1) // the number of this report
	}
	// The signal channel buffers, so an outcome signalled right after
	// TASK_SUSPENDED was appended (even before the activity returned) is
	// waiting for us below.
	if err := r.report(ctx, reportRequest{Kind: reportSuspend, Suspend: &req}); err != nil {
		return nil, err
	}
	out, err := r.wait(ctx, req)
	switch {
	case err != nil:
		return nil, err
	case out.Expired():
		return nil, fmt.Errorf("temporal: suspension %s of task %s: %w", req.SuspendID, r.task.ID, taskbridge.ErrSuspensionExpired)
	}
	return out.Action, nil
}

// wait waits for the outcome of suspension req: a resume signal for it,
// or its timer, after which the store says whether it expired or an
// action came first. Signals for other suspensions (earlier ones, repeats)
// are dropped.
func (r *run) wait(ctx workflow.Context, req taskbridge.SuspendRequest) (taskbridge.Resume, error) {
	signals := workflow.GetSignalChannel(ctx, SignalResume)
	timerCtx, stopTimer := workflow.WithCancel(ctx)
	defer stopTimer()
	var timer workflow.Future
	if !req.ExpiresAt.IsZero() {
		timer = workflow.NewTimer(timerCtx, max(req.ExpiresAt.Sub(workflow.Now(ctx)), 0))
	}
	for {
		var got *taskbridge.Resume
		fired := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
			var res taskbridge.Resume
			c.Receive(ctx, &res)
			if res.SuspendID == req.SuspendID {
				got = &res
			}
		})
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		if timer != nil {
			sel.AddFuture(timer, func(workflow.Future) { fired = true })
		}
		sel.Select(ctx)
		switch {
		case ctx.Err() != nil:
			return taskbridge.Resume{}, ctx.Err()
		case got != nil:
			return *got, nil
		case fired:
			var out expireOutcome
			err := workflow.ExecuteLocalActivity(ctx, ActivityExpire, expireRequest{TaskID: r.task.ID, SuspendID: req.SuspendID}).Get(ctx, &out)
			if err != nil {
				return taskbridge.Resume{}, reportError(err)
			}
			return taskbridge.Resume{TaskID: r.task.ID, SuspendID: req.SuspendID, Action: out.Action}, nil
		}
	}
}

// report runs one report activity under the next key. JSON the activity
// could not carry is refused here, as the Reporter would refuse it.
func (r *run) report(ctx workflow.Context, req reportRequest) error {
	if err := req.checkJSON(); err != nil {
		return err
	}
	r.reports++
	req.Key = r.workflowID + "/" + strconv.Itoa(r.reports)
	req.TaskID = r.task.ID
	return reportError(workflow.ExecuteLocalActivity(ctx, ActivityReport, req).Get(ctx, nil))
}

// checkJSON refuses a report whose JSON is not JSON.
func (req reportRequest) checkJSON() error {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"/result", req.Result}, {"/interaction", deref(req.Suspend).Interaction}, {"/uiHints", deref(req.Suspend).UIHints}} {
		if len(f.raw) > 0 && !json.Valid(f.raw) {
			return &taskbridge.InvalidInputError{Field: f.name, Reason: "is not JSON"}
		}
	}
	return nil
}

// end makes a terminal report. A task that had already ended is done; a
// final report refused as an invalid event fails the task with
// CodeInvalidReport instead, so that it does not stay running.
func (r *run) end(ctx workflow.Context, req reportRequest) error {
	err := r.report(ctx, req)
	var invalid *taskbridge.InvalidInputError
	if errors.As(err, &invalid) && !errors.Is(err, taskbridge.ErrTaskEnded) {
		workflow.GetLogger(ctx).Error("the reporter refused a task's final report", "taskId", r.task.ID, "err", err)
		err = r.report(ctx, reportRequest{Kind: reportFail, Failure: &taskbridge.Failure{
			Code: CodeInvalidReport, Message: "the task's final report was refused: " + invalid.Error()}})
	}
	if errors.Is(err, taskbridge.ErrTaskEnded) {
		return nil
	}
	return err
}

// reportError turns an activity's non-retryable refusal back into the
// taskbridge error it stands for, so that handlers can test it with
// errors.Is and errors.As.
func reportError(err error) error {
	var app *temporal.ApplicationError
	if err == nil || !errors.As(err, &app) {
		return err
	}
	switch app.Type() {
	case errTypeTaskEnded:
		return fmt.Errorf("temporal: %w: %w", taskbridge.ErrTaskEnded, err)
	case errTypeInvalidInput:
		invalid := &taskbridge.InvalidInputError{Reason: app.Message()}
		if app.HasDetails() {
			_ = app.Details(&invalid.Field, &invalid.Reason)
		}
		return fmt.Errorf("temporal: %w: %w", invalid, err)
	}
	return err
}
