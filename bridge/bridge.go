package bridge

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/local"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/sse"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

// Config is everything a Bridge is made of. TaskTypes and Auth are
// required; a zero or nil field of the rest is its documented default.
type Config struct {
	// TaskTypes are the host's task types, as tbgen generates them.
	TaskTypes TaskTypes
	// Auth finds the caller of each request. Required.
	Auth taskbridge.AuthResolver
	// Store keeps tasks, events, suspensions and receipts; nil is an
	// in-memory store (one process; nothing survives a restart). A store
	// that is a taskbridge.Preparer is prepared by Run; one that is a
	// taskbridge.SharedStore tells that replicas share it.
	Store taskbridge.Store
	// Executor, when set, makes the executor of the tasks from the
	// Reporter it must report through; nil runs the handlers of TaskTypes
	// in this process (adapters/local) with the Local settings. An executor
	// with a Shutdown(context.Context) error method is shut down by
	// Shutdown.
	Executor func(taskbridge.Reporter) (taskbridge.TaskExecutor, error)
	// Local tunes the in-process executor.
	Local Local
	// Ownership decides who may create and see tasks; nil is
	// services.OwnerOnly (a task is its creator's).
	Ownership taskbridge.OwnershipPolicy
	// Uploads decides the upload limits per caller; nil gives everyone
	// HTTP.Uploads.
	Uploads taskbridge.UploadPolicy
	// BeforeCreate, when set, sees every create before idempotency and
	// submission; it may refuse it or enrich its metadata.
	BeforeCreate BeforeCreateFunc
	// Limits are per-subject caps (open streams, creates per second),
	// counted per process; the zero value caps nothing.
	Limits Limits
	// MaxEventBytes bounds the JSON of an event's payload: a report over
	// it (a result, a message) is refused with a clear error, and never
	// reaches a reader. 0 is DefaultMaxEventBytes (1 MiB); negative is no
	// bound.
	MaxEventBytes int
	// Metrics counts what happens (package prommetrics exports it to
	// Prometheus): it hears the services, the store's appends and reads,
	// the hub, the executor when it is the local one, the background work
	// and the life of every stream. nil counts nothing.
	Metrics taskbridge.Metrics
	// TracerProvider traces the bridge with OpenTelemetry: a server span
	// per API request named by its operation id (the caller's span, when
	// TracePropagator finds one in the request, is its parent), the
	// task's run on the local executor as a child of its create's span
	// (kept with the task, so another replica continues it), a span per
	// report and per store append and read. nil traces nothing, at no cost.
	TracerProvider trace.TracerProvider
	// TracePropagator reads a caller's trace context from its request's
	// headers; nil is W3C Trace Context (traceparent).
	TracePropagator propagation.TextMapPropagator
	// Diagnostics hears every stream open, replay and close (transport,
	// cursor, reason, how far behind a slow reader was, duration); nil
	// logs them on Logger at debug level. The SSE and WebSocket settings
	// may each name their own.
	Diagnostics taskbridge.Diagnostics
	// Probes are the host's own checks for /ready, beside the bridge's
	// (the store, when it is a taskbridge.ReadinessProbe, and the live
	// notifications of its appends).
	Probes []taskbridge.ReadinessProbe
	// HTTP says where the routes go and how large requests may be.
	HTTP HTTP
	// SSE, WebSocket and Poll tune the three transports; Hub the fan-out
	// of events to them.
	SSE       sse.Settings
	WebSocket ws.Settings
	Poll      Poll
	Hub       hub.Config
	// Background tunes the work Run does besides the hub.
	Background Background
	// ShutdownTimeout bounds the shutdown of ListenAndServe when its ctx
	// ends: Shutdown's, then the HTTP server's. Default 10 s.
	ShutdownTimeout time.Duration
	// Logger logs; nil discards.
	Logger *slog.Logger
}

// instrumentation names the bridge's tracer.
const instrumentation = "github.com/taskbridge-go/taskbridge"

// DefaultShutdownTimeout is the default of Config.ShutdownTimeout.
const DefaultShutdownTimeout = 10 * time.Second

// Local tunes the in-process executor; a zero field is its default.
type Local struct {
	// MaxConcurrent bounds the handlers running at once (a task waiting in
	// a suspension does not count); 0 is local.DefaultMaxConcurrent.
	MaxConcurrent int
	// Lease applies over a store that replicas share (a
	// taskbridge.LeaseStore): it bounds how long a task stays live after
	// the process that ran it died, before another replica ends it with
	// TASK_FAILED EXECUTOR_LOST (retryable). A replica that cannot renew
	// its lease for a third of it has its tasks taken for lost. 0 is
	// DefaultLease (30 s).
	Lease time.Duration
}

// HTTP says where Mount puts the routes, relative to the router it is
// given, and bounds requests; a zero field is its default.
type HTTP struct {
	// Base is the path of the task endpoints in place of the contract's
	// "/api/v1" ("/" for the router's root); Health and Ready those of
	// liveness and readiness ("/health", "/ready"), Off leaves one out.
	Base, Health, Ready string
	// OpenAPI is the path under Base where the merged contract is served,
	// with the paths as mounted; default "/openapi.json", Off leaves it out.
	OpenAPI string
	// MaxBodyBytes bounds a JSON request body; 0 is 1 MiB.
	MaxBodyBytes int64
	// BodyReadTimeout is how long a request body may stall between two
	// reads before the request is cut with 408; streams have no body and
	// are not touched. Default DefaultBodyReadTimeout.
	BodyReadTimeout time.Duration
	// ReadHeaderTimeout and IdleTimeout are those of Server: the time to
	// read a request's headers, and the time a keep-alive connection may
	// wait for its next request before it is closed. Defaults
	// DefaultReadHeaderTimeout and DefaultIdleTimeout.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// MaxConnections caps the open connections of Listener (and so of
	// Serve); past it a new connection is closed at once. Default: the
	// process's open-file limit less a twentieth of it (at least 128),
	// which the store's connections and files keep. Negative: no cap.
	MaxConnections int
	// MaxConnectionsPerClient caps those from one client address. Default
	// DefaultMaxConnectionsPerClient; negative: no cap. Behind a proxy or a
	// load balancer every connection comes from its address: raise the cap
	// or turn it off there.
	MaxConnectionsPerClient int
	// Uploads bound the files of a multipart create, unless Config.Uploads
	// decides per caller; a zero field is its default (10 MiB a file,
	// 25 MiB in all, 10 files, any content type).
	Uploads taskbridge.UploadLimits
	// Realm names the API in the Bearer challenge (WWW-Authenticate) of a
	// 401; default "taskbridge".
	Realm string
}

func (h HTTP) withDefaults() HTTP {
	if h.OpenAPI == "" {
		h.OpenAPI = DefaultOpenAPI
	}
	if h.BodyReadTimeout <= 0 {
		h.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if h.ReadHeaderTimeout <= 0 {
		h.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if h.IdleTimeout <= 0 {
		h.IdleTimeout = DefaultIdleTimeout
	}
	if h.MaxConnections == 0 {
		h.MaxConnections = defaultMaxConnections()
	}
	if h.MaxConnectionsPerClient == 0 {
		h.MaxConnectionsPerClient = DefaultMaxConnectionsPerClient
	}
	return h
}

// Off leaves a route of HTTP out.
const Off = services.Off

// DefaultOpenAPI is where the merged contract is served under Base.
const DefaultOpenAPI = "/openapi.json"

// Poll tunes long-polls.
type Poll struct {
	// MaxWait caps the waitTimeoutMs a client asks for, for example below
	// the idle timeout of a proxy in front of the host; 0 is the
	// contract's maximum, 60 s.
	MaxWait time.Duration
	// MaxBytes bounds the payload bytes of one answer (which holds at
	// least one event, and says hasMore when it stopped short); 0 is
	// services.DefaultMaxPollBytes (4 MiB).
	MaxBytes int
}

// Background tunes the work Run does besides the hub; a zero field is its
// default.
type Background struct {
	// ReconcileInterval is how often resume hand-offs that failed are
	// retried; default services.DefaultReconcileInterval (1 s).
	ReconcileInterval time.Duration
	// RetentionInterval is how often overdue suspensions expire and old
	// data is removed; default services.DefaultRetentionInterval (1 s).
	RetentionInterval time.Duration
	// RetainEnded is how long an ended task stays before it is removed
	// whole; default services.DefaultRetainEnded (24 h).
	RetainEnded time.Duration
	// ReceiptTTL is how long an accepted action deduplicates repeats;
	// default services.DefaultReceiptTTL (24 h).
	ReceiptTTL time.Duration
}

// Limits are per-subject caps; see services.Limits.
type Limits = services.Limits

// CreateRequest is a create as a BeforeCreateFunc sees it.
type CreateRequest = services.CreateRequest

// BeforeCreateFunc is a host's preprocessing of creates.
type BeforeCreateFunc = services.BeforeCreateFunc

// Reject is the error with which a hook refuses a request, answered with
// code, message, details and the status the contract gives the code.
func Reject(code gen.ErrorCode, message string, details map[string]any) error {
	return services.Reject(code, message, details)
}

// OwnerOnly is the default OwnershipPolicy: anyone authenticated may create
// any task type, and a task is visible only to the subject that created it.
// Embed it to change one of its rules.
type OwnerOnly = services.OwnerOnly

// DefaultRetainEnded is how long an ended task stays by default
// (Background.RetainEnded).
const DefaultRetainEnded = services.DefaultRetainEnded

// DefaultMaxEventBytes is Config.MaxEventBytes by default.
const DefaultMaxEventBytes = services.DefaultMaxEventBytes

// DefaultLease is Local.Lease by default.
const DefaultLease = services.DefaultLease

// Bridge is taskbridge-go wired: the API on a host's router, the transports,
// the fan-out hub, the executor and the background work. Make it with New,
// put its routes on a router with Mount, run it with Run and stop it with
// Shutdown. Its methods are safe for concurrent use.
type Bridge struct {
	cfg      Config
	log      *slog.Logger
	contract *contract
	store    taskbridge.Store
	executor taskbridge.TaskExecutor
	reporter *services.Reporter
	hub      *hub.Hub
	sse      *sse.Server
	ws       *ws.Server
	api      *services.API
	leases   *services.Leases // nil unless the local executor runs on a LeaseStore
	tracer   trace.Tracer     // nil: no tracing

	prepared chan struct{} // closed once the store is prepared

	mu      sync.Mutex
	stop    chan struct{} // closed by Shutdown: Run returns
	stopped bool          // guarded by mu
	ran     chan struct{} // guarded by mu; made by Run, closed when it returned
}

// New checks cfg and wires the bridge. It starts nothing: Run does.
func New(cfg Config) (*Bridge, error) {
	if cfg.Auth == nil {
		return nil, errors.New("bridge: Config.Auth is required")
	}
	c, err := parseContract(cfg.TaskTypes.Contract)
	if err != nil {
		return nil, err
	}
	checks, err := checkTypes(c.spec, cfg.TaskTypes.Types, cfg.Executor == nil)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Store == nil {
		cfg.Store = memory.New()
	}
	if cfg.Uploads == nil {
		cfg.Uploads = services.StaticUploads(cfg.HTTP.Uploads)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	cfg.HTTP = cfg.HTTP.withDefaults()
	if cfg.SSE.Diagnostics == nil {
		cfg.SSE.Diagnostics = cfg.Diagnostics
	}
	if cfg.WebSocket.Diagnostics == nil {
		cfg.WebSocket.Diagnostics = cfg.Diagnostics
	}
	if cfg.Metrics == nil {
		cfg.Metrics = taskbridge.NopMetrics{}
	}
	for _, m := range []*taskbridge.Metrics{&cfg.SSE.Metrics, &cfg.WebSocket.Metrics, &cfg.Hub.Metrics} {
		if *m == nil {
			*m = cfg.Metrics
		}
	}
	b := &Bridge{cfg: cfg, log: cfg.Logger, contract: c, store: cfg.Store, prepared: make(chan struct{}), stop: make(chan struct{})}
	if cfg.TracerProvider != nil {
		b.tracer = cfg.TracerProvider.Tracer(instrumentation)
	}
	// The store the bridge's parts use is timed and traced; b.store stays
	// the host's, which is asked for optional interfaces.
	observed := services.ObservedStore(cfg.Store, cfg.Metrics, b.tracer)
	if _, ok := cfg.Store.(taskbridge.Preparer); !ok {
		close(b.prepared)
	}
	if b.reporter, err = services.NewReporter(services.ReporterConfig{
		Store: observed, Contract: c.spec, Metrics: cfg.Metrics, Logger: cfg.Logger, MaxEventBytes: cfg.MaxEventBytes, Tracer: b.tracer,
	}); err != nil {
		return nil, err
	}
	if b.executor, err = b.newExecutor(); err != nil {
		return nil, err
	}
	b.hub = hub.New(observed, cfg.Hub)
	b.sse = sse.New(b.hub, cfg.SSE, cfg.Logger)
	b.ws = ws.New(b.hub, cfg.WebSocket, cfg.Logger)
	b.api, err = services.New(services.Config{
		Store:           observed,
		Contract:        c.spec,
		InputChecks:     checks,
		BeforeCreate:    cfg.BeforeCreate,
		Limits:          cfg.Limits,
		Executor:        b.executor,
		Reporter:        b.reporter,
		Auth:            cfg.Auth,
		Ownership:       cfg.Ownership,
		Uploads:         cfg.Uploads,
		StoreReady:      b.prepared,
		Probes:          b.probes(),
		Notifier:        b.hub,
		MaxPollWait:     cfg.Poll.MaxWait,
		MaxPollBytes:    cfg.Poll.MaxBytes,
		SSE:             b.sse,
		WebSocket:       b.ws,
		Metrics:         cfg.Metrics,
		Tracer:          b.tracer,
		Propagator:      cfg.TracePropagator,
		Logger:          cfg.Logger,
		Routes:          services.Routes{Base: cfg.HTTP.Base, Health: cfg.HTTP.Health, Ready: cfg.HTTP.Ready},
		MaxBodyBytes:    cfg.HTTP.MaxBodyBytes,
		BodyReadTimeout: cfg.HTTP.BodyReadTimeout,
		Realm:           cfg.HTTP.Realm,
	})
	if err != nil {
		b.stopExecutor(context.Background())
		return nil, fmt.Errorf("bridge: %w", err)
	}
	return b, nil
}

// stopExecutor shuts the executor down, when it can be: at Shutdown, or
// when New fails after making it.
func (b *Bridge) stopExecutor(ctx context.Context) error {
	if s, ok := b.executor.(interface{ Shutdown(context.Context) error }); ok {
		return s.Shutdown(ctx)
	}
	return nil
}

// checkTypes matches the handlers with the contract's task types and
// returns their input checks by name. Every handler must run a declared
// type; with the local executor every declared type needs a handler.
func checkTypes(spec *taskspec.Spec, types []TaskType, local bool) (map[string]func(json.RawMessage) error, error) {
	checks := map[string]func(json.RawMessage) error{}
	seen := map[string]bool{}
	for _, t := range types {
		switch {
		case spec.TaskType(t.Name) == nil:
			return nil, fmt.Errorf("bridge: task type %q is not declared in the contract (it declares %v)", t.Name, spec.Names())
		case seen[t.Name]:
			return nil, fmt.Errorf("bridge: task type %q has two handlers", t.Name)
		case t.Run == nil:
			return nil, fmt.Errorf("bridge: task type %q has no Run", t.Name)
		}
		seen[t.Name] = true
		if t.Check != nil {
			checks[t.Name] = t.Check
		}
	}
	if local {
		for _, name := range spec.Names() {
			if !seen[name] {
				return nil, fmt.Errorf("bridge: task type %q has no handler; give TaskTypes one or set Config.Executor", name)
			}
		}
	}
	return checks, nil
}

// newExecutor makes the configured executor, or the local one over the
// handlers. Over a store that replicas share, a task it does not run is
// taken to run elsewhere rather than lost, and the local executor holds a
// lease on the tasks it runs, when the store keeps leases.
func (b *Bridge) newExecutor() (taskbridge.TaskExecutor, error) {
	var ex taskbridge.TaskExecutor
	var runner *local.Executor
	if b.cfg.Executor != nil {
		var err error
		if ex, err = b.cfg.Executor(b.reporter); err != nil {
			return nil, fmt.Errorf("bridge: executor: %w", err)
		}
	} else {
		types := make([]local.TaskType, len(b.cfg.TaskTypes.Types))
		for i, t := range b.cfg.TaskTypes.Types {
			run := t.Run
			types[i] = local.TaskType{Name: t.Name, Run: func(ctx context.Context, r *local.Run) (json.RawMessage, error) { return run(ctx, r) }}
		}
		runner = local.New(local.Config{Reporter: b.reporter, MaxConcurrent: b.cfg.Local.MaxConcurrent, Logger: b.log, Metrics: b.cfg.Metrics, Tracer: b.tracer}, types...)
		ex = runner
	}
	if s, ok := b.store.(taskbridge.SharedStore); !ok || !s.Shared() {
		return ex, nil
	}
	if ls, ok := b.store.(taskbridge.LeaseStore); ok && runner != nil {
		b.leases = &services.Leases{
			Store: ls, Reporter: b.reporter, Holder: holderName(), Held: runner.Tasks,
			Lease: b.cfg.Local.Lease, Logger: b.log, Metrics: b.cfg.Metrics,
		}
	}
	return replicaExecutor{TaskExecutor: ex, tasks: b.store}, nil
}

// holderName names this process's executor among the replicas: its host,
// its pid and a random part, new at each start.
func holderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
}

// probes are the host's probes with the bridge's own.
func (b *Bridge) probes() []taskbridge.ReadinessProbe {
	probes := append([]taskbridge.ReadinessProbe(nil), b.cfg.Probes...)
	if p, ok := b.store.(taskbridge.ReadinessProbe); ok {
		probes = append(probes, p)
	}
	if _, ok := b.store.(taskbridge.Preparer); ok {
		probes = append(probes, preparedProbe{b.prepared})
	}
	return append(probes, hubProbe{b.hub})
}

// Reporter is the reporting API the executor reports through; an
// executor made outside the bridge (a worker process) reports through the
// same kind of Reporter over the same store.
func (b *Bridge) Reporter() taskbridge.Reporter { return b.reporter }

// Mount puts the API's routes on router (an *echo.Echo or an *echo.Group)
// where Config.HTTP says: each route with its own request guard (auth,
// body limit, validation against the contract) and error envelope, and the
// merged contract at Base+OpenAPI. The router's other routes keep the
// host's error handler and middleware. Mount once per bridge.
func (b *Bridge) Mount(router gen.EchoRouter) {
	b.api.Mount(router)
	if b.cfg.HTTP.OpenAPI != Off {
		routes := b.api.Routes()
		router.GET(routes.Base+b.cfg.HTTP.OpenAPI, func(c echo.Context) error {
			return c.JSONBlob(http.StatusOK, b.contract.served(routes, c.Path(), b.cfg.HTTP.OpenAPI))
		})
	}
}

// Live is closed once the bridge follows the store's appends (Run started
// the hub and the store's watch is live). /ready fails until then; a host
// on a store of its own process may wait for it before it listens.
func (b *Bridge) Live() <-chan struct{} { return b.hub.Watching() }

// Run runs the hub, prepares the store (retrying with backoff while it
// cannot be reached) and then the background work (resume hand-offs,
// expiry, retention), until ctx ends or Shutdown is called. It returns nil
// after Shutdown, ctx's error when ctx ended first. Call it once.
func (b *Bridge) Run(ctx context.Context) error {
	b.mu.Lock()
	switch {
	case b.ran != nil:
		b.mu.Unlock()
		return errors.New("bridge: Run was called before")
	case b.stopped:
		b.mu.Unlock()
		return nil
	}
	b.ran = make(chan struct{})
	defer close(b.ran)
	b.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Go(func() {
		if err := b.hub.Run(ctx); err != nil {
			b.log.LogAttrs(ctx, slog.LevelError, "the hub stopped", slog.Any("err", err))
		}
	})
	wg.Go(func() {
		if !b.prepare(ctx) {
			return
		}
		bg := b.cfg.Background
		var work sync.WaitGroup
		work.Go(func() {
			_ = (&services.Reconciler{Store: b.store, Executor: b.executor, Reporter: b.reporter, Interval: bg.ReconcileInterval, Logger: b.log, Metrics: b.cfg.Metrics}).Run(ctx)
		})
		work.Go(func() {
			_ = (&services.Retention{Store: b.store, Interval: bg.RetentionInterval, RetainEnded: bg.RetainEnded, ReceiptTTL: bg.ReceiptTTL, Logger: b.log, Metrics: b.cfg.Metrics}).Run(ctx)
		})
		if b.leases != nil {
			work.Go(func() { _ = b.leases.Run(ctx) })
		}
		work.Wait()
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stop:
		return nil
	}
}

// prepare prepares a store that needs it, retrying with backoff; it
// reports whether the store is ready (false when ctx ended first).
func (b *Bridge) prepare(ctx context.Context) bool {
	p, ok := b.store.(taskbridge.Preparer)
	if !ok {
		return true
	}
	delay := 500 * time.Millisecond
	for {
		err := p.Prepare(ctx)
		if err == nil {
			close(b.prepared)
			b.log.LogAttrs(ctx, slog.LevelInfo, "the store is prepared")
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		b.log.LogAttrs(ctx, slog.LevelError, "preparing the store failed; /ready answers 503 until it succeeds",
			slog.Any("err", err), slog.Duration("retryIn", delay))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// Shutdown stops the bridge, in this order, each step within ctx: /ready
// answers 503 and new creates are refused (503, nothing stored), and the
// creates in flight reach the executor; the hub closes, which ends SSE
// streams, answers waiting polls and closes WebSockets with 1001 (going
// away), so that clients resume elsewhere by cursor, and the streams are
// waited for (past ctx, the connections of those still writing are
// closed); the executor stops
// (the local one fails the tasks still running with EXECUTOR_SHUTDOWN,
// retryable); the background work stops and Run returns. Call it before
// the HTTP server's Shutdown, which then finds no stream left to wait
// for. It returns what did not finish within ctx. It is idempotent.
func (b *Bridge) Shutdown(ctx context.Context) error {
	var errs []error
	if err := b.api.Drain(ctx); err != nil {
		errs = append(errs, fmt.Errorf("creates in flight: %w", err))
	}
	b.hub.Close()
	if err := b.sse.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("SSE streams: %w", err))
	}
	if err := b.ws.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("WebSocket sessions: %w", err))
	}
	if err := b.stopExecutor(ctx); err != nil {
		errs = append(errs, fmt.Errorf("executor: %w", err))
	}
	b.mu.Lock()
	if !b.stopped {
		b.stopped = true
		close(b.stop)
	}
	ran := b.ran
	b.mu.Unlock()
	if ran != nil {
		select {
		case <-ran:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("background work: %w", ctx.Err()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("bridge: shutdown: %w", errors.Join(errs...))
	}
	return nil
}
