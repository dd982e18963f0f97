package services

import (
	"context"
	"errors"
	"log/slog"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// CancelTask records the cancel request with its reason and asks the
// executor to stop. It is idempotent and answers 202 CANCELLATION_REQUESTED
// while the task lives and ALREADY_TERMINAL after its end. A task no executor
// runs (not started anywhere, or lost) is ended with TASK_CANCELLED here, so
// that a cancelled task always ends with TASK_CANCELLED.
func (a *API) CancelTask(ctx context.Context, req gen.CancelTaskRequestObject) (gen.CancelTaskResponseObject, error) {
	_, t, err := a.task(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	answer := func(s gen.CancelTaskResponseStatus) (gen.CancelTaskResponseObject, error) {
		return gen.CancelTask202JSONResponse{TaskId: t.ID, Status: s}, nil
	}
	if t.Status.IsTerminal() {
		return answer(gen.CancelTaskResponseStatusAlreadyTerminal)
	}
	reason := DefaultCancelReason
	if req.Body != nil && req.Body.Reason != nil && *req.Body.Reason != "" {
		reason = *req.Body.Reason
	}
	if t, err = a.cfg.Store.RequestCancel(ctx, t.ID, reason); err != nil {
		return nil, err
	}
	if t.Status.IsTerminal() {
		return answer(gen.CancelTaskResponseStatusAlreadyTerminal)
	}
	if err := a.cfg.Executor.Cancel(ctx, t.ID); err != nil {
		if !errors.Is(err, taskbridge.ErrTaskNotRunning) {
			a.log.LogAttrs(ctx, slog.LevelWarn, "the executor did not take a cancel; ending the task here",
				slog.String("taskId", t.ID), slog.Any("err", err))
		}
		if err := a.cfg.Reporter.Cancelled(context.WithoutCancel(ctx), t.ID); err != nil && !errors.Is(err, taskbridge.ErrTaskEnded) {
			return nil, err
		}
	}
	return answer(gen.CancelTaskResponseStatusCancellationRequested)
}
