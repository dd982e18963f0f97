package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/taskbridge-go/taskbridge"
)

// Names of the workflow, its signal and its activities, as Temporal knows
// them.
const (
	// WorkflowName is the one workflow type of every task; it dispatches
	// on the task type to the registered Handler.
	WorkflowName = "taskbridge.task"
	// SignalResume carries a taskbridge.Resume to the task's workflow.
	SignalResume = "taskbridge.resume"
	// ActivityReport makes one report through the Reporter.
	ActivityReport = "taskbridge.report"
	// ActivityExpire expires a suspension whose workflow timer fired.
	ActivityExpire = "taskbridge.expire"
)

// Error types of the non-retryable application errors the activities
// return; the workflow turns them back into the taskbridge sentinels.
const (
	errTypeTaskEnded    = "taskbridge.TaskEnded"
	errTypeInvalidInput = "taskbridge.InvalidInput"
	errTypeRefused      = "taskbridge.Refused"
)

// reportKind names the Reporter method a report calls.
type reportKind string

const (
	reportStart     reportKind = "start"
	reportProgress  reportKind = "progress"
	reportMessage   reportKind = "message"
	reportSuspend   reportKind = "suspend"
	reportComplete  reportKind = "complete"
	reportFail      reportKind = "fail"
	reportCancelled reportKind = "cancelled"
)

// reportRequest is one report a workflow makes through ActivityReport.
// Exactly the field of its Kind is set.
type reportRequest struct {
	// Key is the report's idempotency key: the workflow id and the
	// report's number in the workflow.
	Key    string
	TaskID string
	Kind   reportKind
	// Progress, Message, Suspend, Result and Failure are the report.
	Progress *taskbridge.Progress       `json:",omitempty"`
	Message  *taskbridge.Message        `json:",omitempty"`
	Suspend  *taskbridge.SuspendRequest `json:",omitempty"`
	Result   json.RawMessage            `json:",omitempty"`
	Failure  *taskbridge.Failure        `json:",omitempty"`
}

// expireRequest names the suspension whose timer fired.
type expireRequest struct {
	TaskID, SuspendID string
}

// expireOutcome is what became of a suspension whose timer fired: expired,
// or resolved by an action the store accepted first.
type expireOutcome struct {
	// Action is the accepted action; nil when the suspension expired.
	Action *taskbridge.ActionReceipt
}

// Activities are the activities of the task workflow, run by a Worker:
// each report goes through Reporter under its key, and a suspension whose
// timer fired is expired in Suspensions (the store decides whether it
// expired or an action came first).
type Activities struct {
	// Reporter makes the reports; required.
	Reporter taskbridge.Reporter
	// Suspensions expires suspensions; required.
	Suspensions taskbridge.SuspensionStore
	// Clock tells the time an expiry is judged at; nil is time.Now.
	Clock func() time.Time
	// Logger hears of reports refused for good; nil discards.
	Logger *slog.Logger
}

// report makes one report with its key (taskbridge.WithReportKey), so
// that a retry of the activity stores nothing more. A report the Reporter
// refuses for good (the task ended, an invalid event, a task that is gone)
// is a non-retryable error; anything else, such as an unavailable store,
// is retried by Temporal.
func (a *Activities) report(ctx context.Context, req reportRequest) error {
	ctx = taskbridge.WithReportKey(ctx, req.Key)
	r, id := a.Reporter, req.TaskID
	var err error
	switch req.Kind {
	case reportStart:
		err = r.Start(ctx, id, "")
	case reportProgress:
		err = r.Progress(ctx, id, deref(req.Progress))
	case reportMessage:
		err = r.Message(ctx, id, deref(req.Message))
	case reportSuspend:
		_, err = r.Suspend(ctx, id, deref(req.Suspend))
	case reportComplete:
		err = r.Complete(ctx, id, req.Result)
	case reportFail:
		err = r.Fail(ctx, id, deref(req.Failure))
	case reportCancelled:
		err = r.Cancelled(ctx, id)
	default:
		err = &taskbridge.InvalidInputError{Field: "/kind", Reason: fmt.Sprintf("unknown report kind %q", req.Kind)}
	}
	if err != nil && !errors.Is(err, taskbridge.ErrUnavailable) && !errors.Is(err, taskbridge.ErrTaskEnded) {
		orDiscard(a.Logger).LogAttrs(ctx, slog.LevelWarn, "a task's report was refused",
			slog.String("taskId", id), slog.String("report", string(req.Kind)), slog.String("key", req.Key), slog.Any("err", err))
	}
	return activityError(err)
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// activityError classifies a Reporter's or store's error for Temporal:
// refusals that a retry cannot change are non-retryable, with an error type
// the workflow maps back to the sentinel.
func activityError(err error) error {
	var invalid *taskbridge.InvalidInputError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, taskbridge.ErrTaskEnded):
		return temporal.NewNonRetryableApplicationError(err.Error(), errTypeTaskEnded, err)
	case errors.As(err, &invalid):
		return temporal.NewNonRetryableApplicationError(err.Error(), errTypeInvalidInput, err, invalid.Field, invalid.Reason)
	case errors.Is(err, taskbridge.ErrTaskNotFound), errors.Is(err, taskbridge.ErrInvalidTransition),
		errors.Is(err, taskbridge.ErrSuspensionExists), errors.Is(err, taskbridge.ErrSuspensionNotFound),
		errors.Is(err, taskbridge.ErrCancelRequested):
		return temporal.NewNonRetryableApplicationError(err.Error(), errTypeRefused, err)
	}
	return err
}

// maxExpirePasses bounds how often one Expire asks the store to expire
// overdue suspensions before it leaves the rest to a retry.
const maxExpirePasses = 8

// expireBatch is how many overdue suspensions one store call expires.
const expireBatch = 100

// expire runs when a suspension's timer fired. The store judges: when the
// suspension is still open and overdue it is expired there (the same
// ExpireSuspensions that retention runs); when an action was accepted
// first, Expire returns that action. Either way the outcome is marked as
// handed off, since the workflow takes it from here. A suspension not yet
// overdue by Clock (clocks disagree) is a retryable error, so Temporal
// asks again a little later.
func (a *Activities) expire(ctx context.Context, req expireRequest) (expireOutcome, error) {
	clock := a.Clock
	if clock == nil {
		clock = time.Now
	}
	s, err := a.Suspensions.GetSuspension(ctx, req.TaskID, req.SuspendID)
	for pass := 0; err == nil && s.State == taskbridge.SuspensionOpen; pass++ {
		now := clock()
		if !s.Expired(now) || pass == maxExpirePasses {
			return expireOutcome{}, fmt.Errorf("suspension %s of task %s is still open at %s", req.SuspendID, req.TaskID, now.Format(time.RFC3339Nano))
		}
		if _, err = a.Suspensions.ExpireSuspensions(ctx, now, expireBatch); err != nil {
			break
		}
		s, err = a.Suspensions.GetSuspension(ctx, req.TaskID, req.SuspendID)
	}
	if err != nil {
		return expireOutcome{}, activityError(err)
	}
	var out expireOutcome
	switch s.State {
	case taskbridge.SuspensionResolved:
		out.Action = s.Action
	case taskbridge.SuspensionExpired:
	default: // closed: the task ended while it was open
		err := fmt.Errorf("suspension %s of task %s is %s: %w", req.SuspendID, req.TaskID, s.State, taskbridge.ErrTaskEnded)
		return expireOutcome{}, activityError(err)
	}
	if !s.HandedOff {
		if err := a.Suspensions.MarkHandedOff(ctx, req.TaskID, req.SuspendID); err != nil {
			return expireOutcome{}, activityError(err)
		}
	}
	return out, nil
}
