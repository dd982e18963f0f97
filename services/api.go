package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultBodyReadTimeout = 10 * time.Second
	DefaultCancelReason    = "cancelled_by_user"
	// DefaultRealm names the protection space of the API in the Bearer
	// challenge (WWW-Authenticate) of a 401.
	DefaultRealm = "taskbridge"
)

// Notifier wakes waiting long-polls when a task's history grows.
type Notifier interface {
	// Notify returns a channel that is closed after the next append to the
	// task, or when the notifier shuts down, and a func that releases it.
	Notify(taskID string) (changed <-chan struct{}, release func())
	// Closed reports whether the notifier has shut down; waits then end.
	Closed() bool
}

// Config wires an API. Store, Contract, Executor, Reporter and Auth are
// required; a zero or nil field of the rest means its documented default.
type Config struct {
	// Store keeps tasks, events, suspensions and receipts.
	Store taskbridge.Store
	// Contract declares the task types: create refuses any other taskType,
	// and inputs and action payloads must match its schemas.
	Contract *taskspec.Spec
	// InputChecks hold, by task type, checks of an input that matched its
	// schema, for rules a schema cannot express. Each returns an
	// *taskbridge.InvalidInputError whose Field is relative to the input.
	InputChecks map[string]func(input json.RawMessage) error
	// BeforeCreate, when set, sees every create after its input was
	// checked and before idempotency and submission; see BeforeCreateFunc.
	BeforeCreate BeforeCreateFunc
	// Executor runs the tasks.
	Executor taskbridge.TaskExecutor
	// Reporter is the one reporting API (NewReporter); the API uses it to end
	// tasks that no executor runs any more.
	Reporter taskbridge.Reporter
	// Auth finds the caller of each secured request. A request it refuses
	// with taskbridge.ErrUnauthenticated is answered 401 with what its
	// error says past that sentinel as details.reason (so wrap it as
	// fmt.Errorf("%w: the token expired", taskbridge.ErrUnauthenticated),
	// and keep internal failures out of that text), and with a Bearer
	// challenge that names a refused token invalid_token.
	Auth taskbridge.AuthResolver
	// Realm is the realm of that challenge; "" is DefaultRealm. It is
	// printable ASCII.
	Realm string
	// Ownership decides who may create and see tasks; nil is OwnerOnly.
	Ownership taskbridge.OwnershipPolicy
	// Uploads decides the upload limits; nil is StaticUploads(UploadLimits{}),
	// the defaults of DefaultUploadLimits.
	Uploads taskbridge.UploadPolicy
	// StoreReady, when not nil, is closed once the store can serve (its
	// schema is migrated, say). Until then every task route answers 503
	// NOT_READY with Retry-After, rather than a store error; /health and
	// /ready answer as always.
	StoreReady <-chan struct{}
	// Probes make up /ready; none means always ready (until Drain).
	Probes []taskbridge.ReadinessProbe
	// ProbeTimeout bounds each probe; 0 is 2 s.
	ProbeTimeout time.Duration
	// Notifier lets polls wait for new events; nil answers every poll at once.
	Notifier Notifier
	// MaxPollWait caps the waitTimeoutMs of a poll, for example below the
	// idle timeout of a proxy in front of the host; 0 is the contract's
	// maximum, 60 s.
	MaxPollWait time.Duration
	// MaxPollBytes bounds the payload bytes of one poll's events (a poll
	// answers at least one event, and hasMore when it stopped short); 0 is
	// DefaultMaxPollBytes.
	MaxPollBytes int
	// SSE serves Server-Sent Events; nil answers them 503.
	SSE SSEStreams
	// WebSocket serves WebSocket sessions; nil answers them 503.
	WebSocket WebSocketStreams
	// Metrics counts what happens; nil counts nothing.
	Metrics taskbridge.Metrics
	// Tracer makes a span of every request (see tracing.go); nil traces
	// nothing, at no cost.
	Tracer trace.Tracer
	// Propagator reads the caller's trace context from a request's
	// headers; nil is W3C Trace Context (traceparent).
	Propagator propagation.TextMapPropagator
	// Logger logs; nil discards.
	Logger *slog.Logger
	// Limits are per-subject caps; the zero value caps nothing.
	Limits Limits
	// Routes says where Mount puts the routes.
	Routes Routes
	// MaxBodyBytes bounds a JSON request body; 0 is DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyReadTimeout is how long a request body may stall between two
	// reads before the request is cut with 408 and its connection closed;
	// 0 is DefaultBodyReadTimeout. Requests without a body (streams among
	// them) are not touched.
	BodyReadTimeout time.Duration
	// Clock tells the time; nil is time.Now.
	Clock func() time.Time
}

// API implements the generated gen.StrictServerInterface on the ports.
type API struct {
	cfg    Config
	log    *slog.Logger
	routes map[string]apiRoute // by operationId
	// multipartFields is the spec's CreateTaskMultipartRequest: the text
	// fields of a multipart create, which the guard does not validate.
	multipartFields *openapi3.Schema
	limits          *limiter

	mu       sync.Mutex
	draining bool           // guarded by mu; set by Drain
	creates  sync.WaitGroup // creates in flight; Add under mu while not draining
}

var _ gen.StrictServerInterface = (*API)(nil)

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Contract == nil || cfg.Executor == nil || cfg.Reporter == nil || cfg.Auth == nil {
		return nil, errors.New("services: Config needs Store, Contract, Executor, Reporter and Auth")
	}
	routes, err := cfg.Routes.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Routes = routes
	if cfg.Ownership == nil {
		cfg.Ownership = OwnerOnly{}
	}
	if cfg.Uploads == nil {
		cfg.Uploads = StaticUploads{}
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 2 * time.Second
	}
	cfg.Metrics = orNop(cfg.Metrics)
	if cfg.Propagator == nil {
		cfg.Propagator = propagation.TraceContext{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.MaxPollBytes <= 0 {
		cfg.MaxPollBytes = DefaultMaxPollBytes
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Realm, err = realm(cfg.Realm); err != nil {
		return nil, err
	}
	spec, err := gen.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("services: embedded spec: %w", err)
	}
	multipart, ok := spec.Components.Schemas["CreateTaskMultipartRequest"]
	if !ok || multipart.Value == nil {
		return nil, errors.New("services: the embedded spec has no CreateTaskMultipartRequest")
	}
	return &API{cfg: cfg, log: cfg.Logger, routes: routeTable(spec), multipartFields: multipart.Value, limits: newLimiter(cfg.Limits, cfg.Clock)}, nil
}

// realm checks a Config.Realm and fills in its default.
func realm(r string) (string, error) {
	if r == "" {
		return DefaultRealm, nil
	}
	for _, c := range []byte(r) {
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("services: Realm %q must be printable ASCII", r)
		}
	}
	return r, nil
}

// Drain makes /ready answer 503 and refuses new creates with 503
// NOT_READY (nothing is stored, so a client retries elsewhere with the same
// clientRequestId), then waits until the creates in flight have handed
// their tasks to the executor, or ctx ends. Call it before the executor
// stops, so that no task is created that no executor takes.
func (a *API) Drain(ctx context.Context) error {
	a.mu.Lock()
	a.draining = true
	a.mu.Unlock()
	done := make(chan struct{})
	go func() {
		a.creates.Wait() // no Add after draining is set
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isDraining reports whether Drain was called.
func (a *API) isDraining() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.draining
}

// enterCreate counts a create in flight, unless the API is draining; the
// caller calls a.creates.Done when it returns true.
func (a *API) enterCreate() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.draining {
		return false
	}
	a.creates.Add(1)
	return true
}

// caller returns the principal the guard resolved.
func caller(ctx context.Context) (taskbridge.Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return taskbridge.Principal{}, taskbridge.ErrUnauthenticated
	}
	return p, nil
}

// task returns the caller's task, or ErrTaskNotFound when it is missing or
// not the caller's: the two are indistinguishable on every endpoint.
func (a *API) task(ctx context.Context, taskID string) (taskbridge.Principal, taskbridge.Task, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, taskbridge.Task{}, err
	}
	t, err := a.cfg.Store.GetTask(ctx, taskID)
	if err != nil {
		return p, taskbridge.Task{}, err
	}
	if !a.cfg.Ownership.CanAccess(ctx, p, t) {
		return p, taskbridge.Task{}, fmt.Errorf("task %q is not the caller's: %w", taskID, taskbridge.ErrTaskNotFound)
	}
	return p, t, nil
}

// GetHealth answers liveness.
func (a *API) GetHealth(context.Context, gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	return gen.GetHealth200JSONResponse{Status: gen.HealthResponseStatusOk}, nil
}

// GetReadiness runs every probe concurrently, each bounded by ProbeTimeout,
// and answers 503 with the details when one fails or the API is draining.
func (a *API) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	results := make([]gen.ProbeResult, len(a.cfg.Probes))
	done := make(chan struct{}, len(a.cfg.Probes))
	for i, probe := range a.cfg.Probes {
		go func() {
			defer func() { done <- struct{}{} }()
			pctx, cancel := context.WithTimeout(ctx, a.cfg.ProbeTimeout)
			defer cancel()
			results[i] = probeResult(probe.Check(pctx))
		}()
	}
	for range a.cfg.Probes {
		<-done
	}
	body := gen.ReadinessResponse{Status: gen.ReadinessResponseStatusReady, Details: map[string]gen.ProbeResult{}}
	for i, probe := range a.cfg.Probes {
		body.Details[probe.Name()] = results[i]
		if results[i].Status != gen.ProbeResultStatusReady {
			body.Status = gen.ReadinessResponseStatusNotReady
		}
	}
	if a.isDraining() {
		msg := "shutting down"
		body.Details["server"] = gen.ProbeResult{Status: gen.ProbeResultStatusNotReady, Message: &msg}
		body.Status = gen.ReadinessResponseStatusNotReady
	}
	if body.Status != gen.ReadinessResponseStatusReady {
		return gen.GetReadiness503JSONResponse(body), nil
	}
	return gen.GetReadiness200JSONResponse(body), nil
}

func probeResult(err error) gen.ProbeResult {
	if err == nil {
		return gen.ProbeResult{Status: gen.ProbeResultStatusReady}
	}
	msg := err.Error()
	return gen.ProbeResult{Status: gen.ProbeResultStatusNotReady, Error: &msg}
}

// payloadSchemas holds the spec's schema of each event payload, so that the
// Reporter refuses an event the wire contract would not accept.
type payloadSchemas struct {
	byType map[taskbridge.EventType]*openapi3.Schema
}

func newPayloadSchemas(spec *openapi3.T) (*payloadSchemas, error) {
	names := map[taskbridge.EventType]string{
		taskbridge.EventStarted: "TaskStartedPayload", taskbridge.EventProgress: "TaskProgressPayload",
		taskbridge.EventMessage: "TaskMessagePayload", taskbridge.EventSuspended: "TaskSuspendedPayload",
		taskbridge.EventActionAccepted: "TaskActionAcceptedPayload", taskbridge.EventCompleted: "TaskCompletedPayload",
		taskbridge.EventFailed: "TaskFailedPayload", taskbridge.EventCancelled: "TaskCancelledPayload",
	}
	s := &payloadSchemas{byType: map[taskbridge.EventType]*openapi3.Schema{}}
	for t, name := range names {
		ref, ok := spec.Components.Schemas[name]
		if !ok || ref.Value == nil {
			return nil, fmt.Errorf("services: the embedded spec has no schema %s", name)
		}
		s.byType[t] = ref.Value
	}
	return s, nil
}

// check validates a payload, given as the value json.Unmarshal makes of it.
func (s *payloadSchemas) check(t taskbridge.EventType, payload any) error {
	schema, ok := s.byType[t]
	if !ok {
		return &taskbridge.InvalidInputError{Field: "/type", Reason: fmt.Sprintf("unknown event type %q", t)}
	}
	if err := schema.VisitJSON(payload, openapi3.EnableFormatValidation()); err != nil {
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			return &taskbridge.InvalidInputError{Field: schemaField(se), Reason: se.Reason}
		}
		return &taskbridge.InvalidInputError{Field: "/", Reason: err.Error()}
	}
	return nil
}
