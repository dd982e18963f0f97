package services

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

// CodeInvalidResult is the failure code of a task whose handler returned a
// result that breaks its task type's result schema.
const CodeInvalidResult = "INVALID_RESULT"

// ReporterConfig wires a Reporter. Store is required; a nil Contract checks
// no results, a nil Metrics counts nothing and a nil Clock is time.Now.
type ReporterConfig struct {
	Store taskbridge.Store
	// Contract declares the result schema of each task type.
	Contract *taskspec.Spec
	Metrics  taskbridge.Metrics
	Clock    func() time.Time
}

// Reporter is the one reporting API of executors (taskbridge.Reporter): each
// report is checked against the contract's payload schema (and a result
// against its task type's), then appended together with its status move, so
// that status and history never disagree and no event the contract would
// refuse is ever stored.
type Reporter struct {
	store    taskbridge.Store
	contract *taskspec.Spec
	metrics  taskbridge.Metrics
	clock    func() time.Time
	schemas  *payloadSchemas
}

var _ taskbridge.Reporter = (*Reporter)(nil)

// NewReporter returns the Reporter over cfg.Store.
func NewReporter(cfg ReporterConfig) (*Reporter, error) {
	if cfg.Store == nil {
		return nil, errors.New("services: ReporterConfig needs a Store")
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	spec, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("services: embedded spec: %w", err)
	}
	schemas, err := newPayloadSchemas(spec)
	if err != nil {
		return nil, err
	}
	return &Reporter{store: cfg.Store, contract: cfg.Contract, metrics: cfg.Metrics, clock: cfg.Clock, schemas: schemas}, nil
}

// encode marshals a payload and validates it against its schema.
func (r *Reporter) encode(t taskbridge.EventType, payload any) (json.RawMessage, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, &taskbridge.InvalidInputError{Field: "/", Reason: "the payload is not JSON: " + err.Error()}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, &taskbridge.InvalidInputError{Field: "/", Reason: "the payload is not JSON"}
	}
	if err := r.schemas.check(t, v); err != nil {
		return nil, err
	}
	return b, nil
}

func (r *Reporter) append(ctx context.Context, taskID string, t taskbridge.EventType, payload any, status taskbridge.TaskStatus, s *taskbridge.Suspension) error {
	b, err := r.encode(t, payload)
	if err != nil {
		return err
	}
	if s != nil {
		s.Payload = b
	}
	if _, err := r.store.Append(ctx, taskID, taskbridge.Append{Type: t, Payload: b, Status: status, Suspension: s}); err != nil {
		return err
	}
	r.metrics.EventAppended(t)
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Start appends TASK_STARTED and moves the task to RUNNING.
func (r *Reporter) Start(ctx context.Context, taskID, message string) error {
	return r.append(ctx, taskID, taskbridge.EventStarted, gen.TaskStartedPayload{Message: optional(message)}, taskbridge.StatusRunning, nil)
}

// Progress appends TASK_PROGRESS.
func (r *Reporter) Progress(ctx context.Context, taskID string, p taskbridge.Progress) error {
	payload := gen.TaskProgressPayload{Progress: float32(p.Percent), Stage: optional(p.Stage), Message: optional(p.Message)}
	return r.append(ctx, taskID, taskbridge.EventProgress, payload, "", nil)
}

// Message appends TASK_MESSAGE.
func (r *Reporter) Message(ctx context.Context, taskID string, m taskbridge.Message) error {
	payload := gen.TaskMessagePayload{Message: m.Text}
	if m.Level != "" {
		level := gen.TaskMessagePayloadLevel(m.Level)
		payload.Level = &level
	}
	return r.append(ctx, taskID, taskbridge.EventMessage, payload, "", nil)
}

// Suspend appends TASK_SUSPENDED and opens its suspension.
func (r *Reporter) Suspend(ctx context.Context, taskID string, req taskbridge.SuspendRequest) (taskbridge.Suspension, error) {
	payload, err := suspendedPayload(req)
	if err != nil {
		return taskbridge.Suspension{}, err
	}
	s := taskbridge.Suspension{
		TaskID:         taskID,
		SuspendID:      payload.SuspendId,
		AllowedActions: append([]string(nil), req.AllowedActions...),
		ExpiresAt:      req.ExpiresAt,
		CreatedAt:      r.clock().UTC(),
		State:          taskbridge.SuspensionOpen,
	}
	if err := r.append(ctx, taskID, taskbridge.EventSuspended, payload, "", &s); err != nil {
		return taskbridge.Suspension{}, err
	}
	return s, nil
}

// SuspendedPayload is the TASK_SUSPENDED payload a SuspendRequest makes.
func suspendedPayload(req taskbridge.SuspendRequest) (gen.TaskSuspendedPayload, error) {
	p := gen.TaskSuspendedPayload{
		SuspendId:      req.SuspendID,
		Kind:           gen.SuspensionKind(req.Kind),
		ReasonCode:     req.ReasonCode,
		AllowedActions: req.AllowedActions,
		SchemaVersion:  1,
	}
	if p.SuspendId == "" {
		p.SuspendId = rand.Text()
	}
	if p.Kind == "" {
		p.Kind = gen.SuspensionKindUserActionRequired
	}
	if p.AllowedActions == nil {
		p.AllowedActions = []string{}
	}
	if !req.ExpiresAt.IsZero() {
		at := wireTime(req.ExpiresAt)
		p.ExpiresAt = &at
	}
	var err error
	if p.Interaction, err = jsonObject("/interaction", req.Interaction); err != nil {
		return p, err
	}
	p.UiHints, err = jsonObject("/uiHints", req.UIHints)
	return p, err
}

func jsonObject(field string, raw json.RawMessage) (*gen.JSONObject, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var o gen.JSONObject
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, &taskbridge.InvalidInputError{Field: field, Reason: "must be a JSON object"}
	}
	return &o, nil
}

// Complete appends TASK_COMPLETED, or TASK_CANCELLED once a cancel was
// requested. A result that breaks its task type's schema fails the task
// with CodeInvalidResult instead.
func (r *Reporter) Complete(ctx context.Context, taskID string, result json.RawMessage) error {
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	if !json.Valid(result) {
		return &taskbridge.InvalidInputError{Field: "/result", Reason: "is not JSON"}
	}
	if err := r.checkResult(ctx, taskID, result); err != nil {
		var invalid *taskbridge.InvalidInputError
		if !errors.As(err, &invalid) {
			return err
		}
		fail := taskbridge.Failure{Code: CodeInvalidResult, Message: "the task's result does not match its task type's schema: " + invalid.Error()}
		if ferr := r.Fail(ctx, taskID, fail); ferr != nil {
			return ferr
		}
		return fmt.Errorf("%w; the task failed with %s instead: %w", err, CodeInvalidResult, taskbridge.ErrTaskEnded)
	}
	err := r.append(ctx, taskID, taskbridge.EventCompleted, gen.TaskCompletedPayload{Result: result}, taskbridge.StatusCompleted, nil)
	if errors.Is(err, taskbridge.ErrCancelRequested) {
		return r.Cancelled(ctx, taskID)
	}
	return err
}

// checkResult judges a result by its task type's result schema.
func (r *Reporter) checkResult(ctx context.Context, taskID string, result json.RawMessage) error {
	if r.contract == nil {
		return nil
	}
	t, err := r.store.GetTask(ctx, taskID)
	if err != nil {
		return err
	}
	declared := r.contract.TaskType(t.Type)
	if declared == nil {
		return nil
	}
	return declared.Result.CheckJSON("/result", result)
}

// Fail appends TASK_FAILED, or TASK_CANCELLED once a cancel was requested.
func (r *Reporter) Fail(ctx context.Context, taskID string, f taskbridge.Failure) error {
	payload := gen.TaskFailedPayload{Code: f.Code, Message: f.Message, Retryable: f.Retryable}
	err := r.append(ctx, taskID, taskbridge.EventFailed, payload, taskbridge.StatusFailed, nil)
	if errors.Is(err, taskbridge.ErrCancelRequested) {
		return r.Cancelled(ctx, taskID)
	}
	return err
}

// Cancelled appends TASK_CANCELLED with the reason of the first cancel
// request (DefaultCancelReason when there was none, e.g. an executor that
// stopped on its own).
func (r *Reporter) Cancelled(ctx context.Context, taskID string) error {
	t, err := r.store.GetTask(ctx, taskID)
	if err != nil {
		return err
	}
	if t.Status.IsTerminal() {
		return fmt.Errorf("task %s: %w", taskID, taskbridge.ErrTaskEnded)
	}
	reason := t.CancelReason
	if reason == "" {
		reason = DefaultCancelReason
	}
	return r.append(ctx, taskID, taskbridge.EventCancelled, gen.TaskCancelledPayload{Reason: reason}, taskbridge.StatusCancelled, nil)
}
