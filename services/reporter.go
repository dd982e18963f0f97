package services

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

// CodeInvalidResult is the failure code of a task whose handler returned a
// result that breaks its task type's result schema.
const CodeInvalidResult = "INVALID_RESULT"

// DefaultReportRetryFor is how long a report is retried while the store
// is unavailable, when ReporterConfig.RetryFor is 0: long enough to ride
// out a database restart or a failover.
const DefaultReportRetryFor = time.Minute

// DefaultMaxEventBytes bounds an event's payload when
// ReporterConfig.MaxEventBytes is 0.
const DefaultMaxEventBytes = 1 << 20

// The backoff between the tries of a report: it doubles from the first
// wait up to the longest.
const (
	reportRetryFirst   = 50 * time.Millisecond
	reportRetryLongest = 2 * time.Second
)

// ReporterConfig wires a Reporter. Store is required; a nil Contract checks
// no results, a nil Metrics counts nothing, a nil Clock is time.Now and a
// nil Logger discards.
type ReporterConfig struct {
	Store taskbridge.Store
	// Contract declares the result schema of each task type.
	Contract *taskspec.Spec
	Metrics  taskbridge.Metrics
	Clock    func() time.Time
	Logger   *slog.Logger
	// RetryFor bounds how long a report is retried, with backoff, while
	// the store answers taskbridge.ErrUnavailable; 0 is
	// DefaultReportRetryFor and a negative value tries once. A retry never
	// stores an event twice: every report appends with its own Key.
	RetryFor time.Duration
	// MaxEventBytes bounds the JSON of an event's payload (a result, a
	// message): a report over it is refused with an
	// *taskbridge.InvalidInputError, and nothing reaches a reader. 0 is
	// DefaultMaxEventBytes; negative is no bound.
	MaxEventBytes int
	// Tracer makes a span of every report, a child of the span in the
	// report's context (the executor's run); nil traces nothing.
	Tracer trace.Tracer
}

// Reporter is the one reporting API of executors (taskbridge.Reporter): each
// report is checked against the contract's payload schema (and a result
// against its task type's), then appended together with its status move, so
// that status and history never disagree and no event the contract would
// refuse is ever stored. A report the store cannot take because it is
// unavailable is retried with backoff (ReporterConfig.RetryFor), under the
// same Key, so that it lands once.
type Reporter struct {
	store    taskbridge.Store
	contract *taskspec.Spec
	metrics  taskbridge.Metrics
	clock    func() time.Time
	log      *slog.Logger
	retryFor time.Duration
	maxBytes int
	schemas  *payloadSchemas
	tracer   trace.Tracer // nil: no spans
}

var _ taskbridge.Reporter = (*Reporter)(nil)

// NewReporter returns the Reporter over cfg.Store.
func NewReporter(cfg ReporterConfig) (*Reporter, error) {
	if cfg.Store == nil {
		return nil, errors.New("services: ReporterConfig needs a Store")
	}
	cfg.Metrics = orNop(cfg.Metrics)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = DefaultReportRetryFor
	}
	if cfg.MaxEventBytes == 0 {
		cfg.MaxEventBytes = DefaultMaxEventBytes
	}
	spec, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("services: embedded spec: %w", err)
	}
	schemas, err := newPayloadSchemas(spec)
	if err != nil {
		return nil, err
	}
	return &Reporter{
		store: cfg.Store, contract: cfg.Contract, metrics: cfg.Metrics, clock: cfg.Clock,
		log: orDiscard(cfg.Logger), retryFor: cfg.RetryFor, maxBytes: cfg.MaxEventBytes, schemas: schemas,
		tracer: cfg.Tracer,
	}, nil
}

// retry runs op until it succeeds, fails for another reason than an
// unavailable store, ctx ends or the retry time is spent; it returns op's
// last error.
func (r *Reporter) retry(ctx context.Context, taskID string, op func() error) error {
	err := op()
	if err == nil || !errors.Is(err, taskbridge.ErrUnavailable) || r.retryFor < 0 {
		return err
	}
	r.log.LogAttrs(ctx, slog.LevelWarn, "the store is unavailable; retrying the report",
		slog.String("taskId", taskID), slog.Any("err", err))
	giveUp := time.Now().Add(r.retryFor)
	for wait := reportRetryFirst; errors.Is(err, taskbridge.ErrUnavailable); wait = min(2*wait, reportRetryLongest) {
		d := jitter(wait)
		if time.Now().Add(d).After(giveUp) {
			r.log.LogAttrs(ctx, slog.LevelError, "the store stayed unavailable; the report is given up",
				slog.String("taskId", taskID), slog.Any("err", err))
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
		err = op()
	}
	return err
}

// jitter spreads d over [0.75d, 1.25d), so that the reporters of many
// tasks that failed at once do not retry at once.
func jitter(d time.Duration) time.Duration {
	return d*3/4 + rand.N(d/2)
}

// fits refuses a payload of n bytes over MaxEventBytes.
func (r *Reporter) fits(n int) error {
	if r.maxBytes > 0 && n > r.maxBytes {
		return &taskbridge.InvalidInputError{Field: "/", Reason: fmt.Sprintf("the payload is %d bytes, over the %d an event may carry", n, r.maxBytes)}
	}
	return nil
}

// encode marshals a payload and validates it against its schema.
func (r *Reporter) encode(t taskbridge.EventType, payload any) (json.RawMessage, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, &taskbridge.InvalidInputError{Field: "/", Reason: "the payload is not JSON: " + err.Error()}
	}
	if err := r.fits(len(b)); err != nil {
		return nil, err
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

func (r *Reporter) append(ctx context.Context, taskID string, t taskbridge.EventType, payload any, status taskbridge.TaskStatus, s *taskbridge.Suspension) (err error) {
	if r.tracer != nil {
		var span trace.Span
		ctx, span = r.tracer.Start(ctx, "report "+string(t), trace.WithAttributes(attribute.String("taskbridge.task.id", taskID)))
		defer func() { endSpan(span, err) }()
	}
	b, err := r.encode(t, payload)
	if err != nil {
		return err
	}
	if s != nil {
		s.Payload = b
	}
	// The key makes the retries below store the event once; a caller that
	// retries the report itself gives its own (taskbridge.WithReportKey).
	key := taskbridge.ReportKey(ctx)
	if key == "" {
		key = crand.Text()
	}
	a := taskbridge.Append{Type: t, Payload: b, Status: status, Suspension: s, Key: key}
	err = r.retry(ctx, taskID, func() error {
		_, err := r.store.Append(ctx, taskID, a)
		return err
	})
	if err != nil {
		return err
	}
	r.metrics.EventAppended(t)
	if status.IsTerminal() {
		code := ""
		if f, ok := payload.(gen.TaskFailedPayload); ok {
			code = f.Code
		}
		r.metrics.TaskEnded(status, code)
	}
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
		p.SuspendId = crand.Text()
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
	if err := r.fits(len(result)); err != nil {
		return err // before the result is parsed, however large it is
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
	t, err := r.task(ctx, taskID)
	if err != nil {
		return err
	}
	declared := r.contract.TaskType(t.Type)
	if declared == nil {
		return nil
	}
	return declared.Result.CheckJSON("/result", result)
}

// task reads the task, retrying while the store is unavailable.
func (r *Reporter) task(ctx context.Context, taskID string) (t taskbridge.Task, err error) {
	err = r.retry(ctx, taskID, func() error {
		t, err = r.store.GetTask(ctx, taskID)
		return err
	})
	return t, err
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
	t, err := r.task(ctx, taskID)
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
