package services

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// SubmitTaskAction answers a suspension. The store judges and records the
// action in one step (receipt, resolution, TASK_ACTION_ACCEPTED and a pending
// hand-off); the hand-off to the executor follows and, should it fail, the
// Reconciler retries it until the executor took it.
func (a *API) SubmitTaskAction(ctx context.Context, req gen.SubmitTaskActionRequestObject) (_ gen.SubmitTaskActionResponseObject, err error) {
	outcome := ""
	defer func() {
		if err != nil {
			outcome = string(a.errorFor(err).Code)
		}
		a.cfg.Metrics.ActionAnswered(outcome)
	}()
	_, t, err := a.task(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, unprocessable("body", "a request body is required")
	}
	b := req.Body
	if err := a.checkAction(ctx, t, b.SuspendId, b.ActionType, objectOrNil(b.Payload)); err != nil {
		return nil, err
	}
	payload, err := jsonOrNull(objectOrNil(b.Payload))
	if err != nil {
		return nil, unprocessable("/payload", "cannot be encoded as JSON")
	}
	metadata, err := jsonOrNull(objectOrNil(b.Metadata))
	if err != nil {
		return nil, unprocessable("/metadata", "cannot be encoded as JSON")
	}
	now := a.now()
	accepted, err := json.Marshal(gen.TaskActionAcceptedPayload{
		SuspendId: b.SuspendId, ClientActionId: b.ClientActionId, ActionType: b.ActionType, AcceptedAt: wireTime(now),
	})
	if err != nil {
		return nil, err
	}
	out, err := a.cfg.Store.RecordAction(ctx, taskbridge.ActionRequest{
		TaskID:         t.ID,
		ClientActionID: b.ClientActionId,
		SuspendID:      b.SuspendId,
		ActionType:     b.ActionType,
		Payload:        payload,
		Metadata:       metadata,
		Fingerprint:    actionFingerprint(b.SuspendId, b.ActionType, payload),
		Now:            now,
		AcceptedEvent:  accepted,
	})
	if err != nil {
		return nil, a.notOpen(ctx, t.ID, b.SuspendId, err)
	}
	outcome = string(out.Status)
	body := gen.TaskClientActionResponse{
		TaskId: t.ID, SuspendId: b.SuspendId, ClientActionId: b.ClientActionId,
		Status: gen.TaskClientActionResponseStatus(out.Status),
	}
	switch out.Status {
	case taskbridge.ActionDeduplicated:
		return gen.SubmitTaskAction200JSONResponse(body), nil
	case taskbridge.ActionAccepted:
		a.cfg.Metrics.EventAppended(taskbridge.EventActionAccepted)
		a.handOff(context.WithoutCancel(ctx), taskbridge.Resume{TaskID: t.ID, SuspendID: b.SuspendId, Action: out.Receipt})
	}
	return gen.SubmitTaskAction202JSONResponse(body), nil
}

// notOpen turns the store's ErrSuspensionNotFound for an action into a
// *taskbridge.SuspensionNotOpenError naming the suspension the task waits on
// now; any other error it returns as it is.
func (a *API) notOpen(ctx context.Context, taskID, suspendID string, err error) error {
	if !errors.Is(err, taskbridge.ErrSuspensionNotFound) || errors.Is(err, taskbridge.ErrTaskNotFound) {
		return err
	}
	open, ok, lookErr := a.cfg.Store.OpenSuspensionOf(ctx, taskID)
	if lookErr != nil {
		return lookErr
	}
	notOpen := &taskbridge.SuspensionNotOpenError{TaskID: taskID, SuspendID: suspendID}
	if ok {
		notOpen.OpenSuspendID = open.SuspendID
	}
	return notOpen
}

// checkAction judges an action's payload by the schema that the task's type
// declares for that action of the suspension (an absent payload is checked
// as {}), before anything is recorded. A suspension or an action the
// contract does not declare is left to the store to judge.
func (a *API) checkAction(ctx context.Context, t taskbridge.Task, suspendID, actionType string, payload map[string]any) error {
	declared := a.cfg.Contract.TaskType(t.Type)
	if declared == nil || len(declared.Suspensions) == 0 {
		return nil
	}
	s, err := a.cfg.Store.GetSuspension(ctx, t.ID, suspendID)
	if errors.Is(err, taskbridge.ErrSuspensionNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	suspension := declared.Suspension(reasonCode(s))
	if suspension == nil {
		return nil
	}
	action := suspension.Action(actionType)
	if action == nil {
		return nil
	}
	var v any = payload
	if payload == nil {
		v = map[string]any{}
	}
	return action.Payload.Check("/payload", v)
}

// reasonCode is the reasonCode of the suspension's TASK_SUSPENDED event,
// which names the suspension in the contract.
func reasonCode(s taskbridge.Suspension) string {
	var p struct {
		ReasonCode string `json:"reasonCode"`
	}
	if json.Unmarshal(s.Payload, &p) != nil {
		return ""
	}
	return p.ReasonCode
}

// handOff gives a resolved suspension's outcome to the executor and marks
// it taken; a failure is logged and left to the Reconciler.
func (a *API) handOff(ctx context.Context, r taskbridge.Resume) {
	if err := handOff(ctx, a.cfg.Executor, a.cfg.Reporter, a.cfg.Store, r); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "resume hand-off failed; the reconciler retries it",
			slog.String("taskId", r.TaskID), slog.String("suspendId", r.SuspendID), slog.Any("err", err))
	}
}

// handOff delivers one resume. A task the executor no longer runs can never
// take it: that task is failed with EXECUTOR_LOST instead of waiting forever.
func handOff(ctx context.Context, ex taskbridge.TaskExecutor, rep taskbridge.Reporter, store taskbridge.SuspensionStore, r taskbridge.Resume) error {
	err := ex.Resume(ctx, r)
	if errors.Is(err, taskbridge.ErrTaskNotRunning) {
		err = rep.Fail(ctx, r.TaskID, lostFailure)
		if errors.Is(err, taskbridge.ErrTaskEnded) || errors.Is(err, taskbridge.ErrCancelRequested) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	return store.MarkHandedOff(ctx, r.TaskID, r.SuspendID)
}

// jsonOrNull encodes an object of the request; nil is null.
func jsonOrNull(o map[string]any) (json.RawMessage, error) {
	if o == nil {
		return json.RawMessage("null"), nil
	}
	return json.Marshal(o)
}

// actionFingerprint summarises what makes two actions with one
// clientActionId the same: the suspension, the type and the payload.
func actionFingerprint(suspendID, actionType string, payload json.RawMessage) string {
	return digest([]byte(suspendID), []byte(actionType), payload)
}
