// Package hostapp is the example taskbridge-go host as a library: the
// contract of examples/host/tasktypes served by Echo over the in-memory or
// the PostgreSQL store, with the `scripted` and `echo` task types. Main is
// its one entry point: it reads the flags (with TASKBRIDGE_* environment
// variables as their defaults), opens the store, wires the bridge, serves
// until its ctx ends and shuts everything down in order.
//
// The command examples/host calls Main as it is: the local executor runs
// the tasks in the process. A host binary that offers another executor
// passes it WithExecutor: its flags join the host's (so -h and the
// environment variables cover them), and -executor selects it. The
// Temporal host (adapters/temporal/examples/host, in the Temporal module,
// so that this module never requires the Temporal SDK) is one:
//
//	os.Exit(hostapp.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, nil, hostapp.WithExecutor(temporalExecutor())))
//
// With PostgreSQL, several hosts on different addresses share one database
// as replicas: a client may create on one, stream from another and resume
// on a third. A host starts while the database is down: /ready answers 503
// until the schema is migrated (retried with backoff) and the notification
// connection is up.
//
// Authentication is a development resolver: `Authorization: Bearer
// <subject>` or `?access_token=<subject>`, and the subject owns what it
// creates. The host also serves a demo page at / (package web) and
// Prometheus metrics at /metrics (package prommetrics, with the Go
// runtime's and the process's; -metrics=false turns them off). With
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set it
// exports OpenTelemetry traces over OTLP/HTTP.
package hostapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/bridge"
	"github.com/taskbridge-go/taskbridge/examples/host/tasks"
	"github.com/taskbridge-go/taskbridge/examples/host/tasktypes"
	"github.com/taskbridge-go/taskbridge/examples/host/web"
	"github.com/taskbridge-go/taskbridge/prommetrics"
	"github.com/taskbridge-go/taskbridge/stores/postgres"
)

// Executor is an executor a host binary offers beside the local one;
// -executor Name selects it.
type Executor struct {
	// Name is its -executor value; not "local", which is always there.
	Name string
	// Help is one line for -h: what the executor runs the tasks on.
	Help string
	// Flags, when set, registers the executor's own flags on the host's
	// FlagSet, before the environment and the command line are read, so
	// that -h lists them with their TASKBRIDGE_* variables. Their values
	// are the executor's own (the closure's) to keep.
	Flags func(fs *flag.FlagSet)
	// Check, when set, refuses settings of its flags that cannot work,
	// after parsing, when -executor selects it: the host exits with 2.
	Check func() error
	// New makes the executor when the host starts, once the store is
	// open and before the bridge is made. It returns the bridge's
	// Executor hook and what to close once the bridge has shut down
	// (an executor with a Shutdown(context.Context) error method is shut
	// down by the bridge itself). A failure stops the host with 1.
	// Required.
	New func(ctx context.Context, env Env) (Wiring, error)
}

// Env is what the host hands an executor's New.
type Env struct {
	// Store is the host's store (the bridge's, shared with replicas with
	// -store postgres).
	Store taskbridge.Store
	// TaskTypes are the host's task types: the contract with the
	// `scripted` and `echo` handlers of the local executor. The bridge
	// checks every input against the contract and with their checks
	// (tasks.Host.CheckScripted) whatever executor runs the tasks.
	TaskTypes bridge.TaskTypes
	// Logger is the host's logger.
	Logger *slog.Logger
}

// Wiring is an executor as Executor.New made it.
type Wiring struct {
	// Executor is bridge.Config.Executor. Required.
	Executor func(taskbridge.Reporter) (taskbridge.TaskExecutor, error)
	// Close, when set, is called once the bridge has shut down (after
	// Executor made the executor or not), or when the host fails to
	// start; it releases what New took (connections, goroutines).
	Close func()
}

// Option adds to what the host offers.
type Option func(*settings)

// settings are what the options add.
type settings struct {
	executors []Executor
}

// WithExecutor offers ex beside the local executor, under -executor
// ex.Name.
func WithExecutor(ex Executor) Option {
	return func(s *settings) { s.executors = append(s.executors, ex) }
}

// localExecutor is the name of the in-process executor, always offered.
const localExecutor = "local"

func newSettings(opts []Option) settings {
	var s settings
	for _, opt := range opts {
		opt(&s)
	}
	return s
}

// names are the -executor values this host offers.
func (s settings) names() []string {
	names := []string{localExecutor}
	for _, ex := range s.executors {
		names = append(names, ex.Name)
	}
	return names
}

// executor is the offered executor of that name, nil for local.
func (s settings) executor(name string) *Executor {
	for i := range s.executors {
		if s.executors[i].Name == name {
			return &s.executors[i]
		}
	}
	return nil
}

// options are the host's settings.
type options struct {
	addr           string
	store          string
	executor       string
	postgresURL    string
	postgresSchema string
	pprofAddr      string
	metrics        bool
	logFormat      string
	drain          time.Duration
	retainEnded    time.Duration
	maxConcurrent  int
	lease          time.Duration
	maxEventBytes  int
	logLevel       string
	http           bridge.HTTP   // the connection caps and timeouts
	limits         bridge.Limits // the per-subject caps
}

// parseOptions reads flags, with TASKBRIDGE_<NAME> environment variables as
// their defaults.
func parseOptions(args []string, stderr io.Writer, s settings) (options, error) {
	var o options
	fs := flagSet(&o, stderr, s)
	if err := applyEnv(fs); err != nil {
		return o, err
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, o.check(s)
}

// FlagSet returns the flags of a host with these options, unparsed: what -h
// lists (tools and tests read it; Main makes its own).
func FlagSet(stderr io.Writer, opts ...Option) *flag.FlagSet {
	var o options
	return flagSet(&o, stderr, newSettings(opts))
}

// flagSet defines the host's flags on o; every one of them works (a flag
// comes with the feature it sets, never before).
func flagSet(o *options, stderr io.Writer, s settings) *flag.FlagSet {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs, s) }
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	fs.StringVar(&o.store, "store", "memory", "store: memory or postgres")
	fs.StringVar(&o.executor, "executor", localExecutor, "what runs the tasks: "+strings.Join(s.names(), " or ")+" (see Executors above)")
	fs.StringVar(&o.postgresURL, "postgres-url", "", "PostgreSQL URL, for -store postgres")
	fs.StringVar(&o.postgresSchema, "postgres-schema", postgres.DefaultSchema, "PostgreSQL schema of the tables, for -store postgres (replicas share it)")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "when set, serve the Go profiler (net/http/pprof) on this address, apart from the API")
	fs.BoolVar(&o.metrics, "metrics", true, "serve Prometheus metrics at /metrics")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "how long shutdown waits for requests and tasks to finish")
	fs.DurationVar(&o.retainEnded, "retain-ended", bridge.DefaultRetainEnded, "how long an ended task is kept before it is removed")
	fs.IntVar(&o.maxConcurrent, "max-concurrent", 0, "with -executor local: how many tasks run at once (0 is the local executor's default)")
	fs.IntVar(&o.maxEventBytes, "max-event-bytes", bridge.DefaultMaxEventBytes, "the largest payload an event may carry, in bytes; a report over it is refused")
	fs.DurationVar(&o.lease, "lease", bridge.DefaultLease, "with -executor local and -store postgres: how long a task stays live after its replica died, before another ends it")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&o.http.MaxConnections, "max-conns", 0, "open connections at the most (0: the open-file limit less a twentieth; -1: no cap)")
	fs.IntVar(&o.http.MaxConnectionsPerClient, "max-conns-per-client", 0, fmt.Sprintf("open connections from one client address at the most (0: %d; -1: no cap)", bridge.DefaultMaxConnectionsPerClient))
	fs.DurationVar(&o.http.BodyReadTimeout, "body-read-timeout", bridge.DefaultBodyReadTimeout, "how long a request body may stall before the request is cut")
	fs.DurationVar(&o.http.IdleTimeout, "idle-timeout", bridge.DefaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&o.limits.StreamsPerSubject, "streams-per-subject", 1000, "open streams of one caller at the most (0: no cap)")
	fs.Float64Var(&o.limits.CreatesPerSecond, "creates-per-second", 200, "creates of one caller a second at the most, on average (0: no cap)")
	fs.IntVar(&o.limits.CreatesBurst, "creates-burst", 0, "creates of one caller at once at the most (0: one second's worth)")
	for _, ex := range s.executors {
		if ex.Flags != nil {
			ex.Flags(fs)
		}
	}
	return fs
}

// EnvName is the environment variable that sets a flag: TASKBRIDGE_ and
// the flag's name in upper case, with - as _.
func EnvName(flagName string) string {
	return "TASKBRIDGE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag whose environment variable is set; the command
// line, parsed after, wins.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok && err == nil {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s: %w", EnvName(f.Name), serr)
			}
		}
	})
	return err
}

// usage prints what -h shows: the flags, the environment variable of each,
// and the other variables the host reads.
func usage(fs *flag.FlagSet, s settings) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: host [flags]

The example taskbridge-go host: the TaskBridge API (in-memory or PostgreSQL
store) with the scripted and echo task types, a demo page at / and
Prometheus metrics at /metrics. Authentication is for development only: the
bearer token (or ?access_token=) is the caller's name.

Executors (-executor):
  local     the tasks run in this process (the default)
`)
	for _, ex := range s.executors {
		fmt.Fprintf(w, "  %-9s %s\n", ex.Name, ex.Help)
	}
	fmt.Fprint(w, `
Flags:
`)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Environment:
  Each flag may be set by a variable instead; a flag on the command line wins.
`)
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  %-36s -%s\n", EnvName(f.Name), f.Name)
	})
	fmt.Fprint(w, `
  Tracing (OpenTelemetry, exported over OTLP/HTTP):
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
        where to export traces; when neither is set, nothing is traced
  OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT, ... (OTEL_EXPORTER_OTLP_*)
        the exporter's other settings, as the OpenTelemetry specification says
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        the service's name (default taskbridge-host) and resource attributes

  With -store postgres, PGPASSWORD, PGSSLMODE and libpq's other PG* variables
  fill in what -postgres-url leaves out.
`)
}

// check refuses settings that cannot work together.
func (o options) check(s settings) error {
	ex := s.executor(o.executor)
	switch {
	case o.executor != localExecutor && ex == nil:
		return fmt.Errorf("-executor %s: this host has %s", o.executor, strings.Join(s.names(), " or "))
	case ex != nil && ex.Check != nil:
		if err := ex.Check(); err != nil {
			return err
		}
	}
	switch {
	case o.store == "postgres" && o.postgresURL == "":
		return errors.New("-store postgres needs -postgres-url")
	case o.store != "memory" && o.store != "postgres":
		return fmt.Errorf("-store %s: memory or postgres", o.store)
	case o.logFormat != "text" && o.logFormat != "json":
		return fmt.Errorf("-log-format %s: text or json", o.logFormat)
	}
	return nil
}

// Main starts the host with the command-line arguments args (without the
// program's name) and serves until ctx ends, then shuts down within the
// drain time. It prints the address it listens on to stdout, logs to
// stderr, sends the bound address on ready (when not nil) and returns the
// exit status: 0 after a shutdown (or -h), 1 when the host failed, 2 for
// bad flags. opts add to what the host offers (WithExecutor).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string, opts ...Option) int {
	s := newSettings(opts)
	o, err := parseOptions(args, stderr, s)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "host:", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintln(stderr, "host: -log-level:", err)
		return 2
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if o.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)
	if err := serve(ctx, o, s, log, stdout, ready); err != nil {
		log.Error("host stopped", "err", err)
		return 1
	}
	return 0
}

// serve wires the host and serves until ctx ends; then the bridge shuts
// down (streams end, WebSockets close with 1001, tasks stop) and the HTTP
// server after it, each within the drain time.
func serve(ctx context.Context, o options, s settings, log *slog.Logger, stdout io.Writer, ready chan<- string) error {
	store, closeStore, err := openStore(o, log)
	if err != nil {
		return err
	}
	defer closeStore()
	types := tasktypes.TaskTypes(tasks.Host{})
	var executor Wiring
	if ex := s.executor(o.executor); ex != nil {
		if executor, err = ex.New(ctx, Env{Store: store, TaskTypes: types, Logger: log}); err != nil {
			return fmt.Errorf("-executor %s: %w", ex.Name, err)
		}
		if executor.Close != nil {
			defer executor.Close()
		}
		if executor.Executor == nil {
			return fmt.Errorf("-executor %s: it made no executor", ex.Name)
		}
	}
	tracerProvider, stopTracing, err := tracing(ctx)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.drain)
		defer cancel()
		if err := stopTracing(stopCtx); err != nil {
			log.Warn("flushing traces failed", "err", err)
		}
	}()
	var metrics taskbridge.Metrics
	registry := prometheus.NewRegistry()
	if o.metrics {
		registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		if metrics, err = prommetrics.New(registry); err != nil {
			return err
		}
	}
	b, err := bridge.New(bridge.Config{
		TaskTypes:       types,
		Executor:        executor.Executor, // nil: the local executor
		Store:           store,
		Auth:            bridge.BearerAuth(devAuth),
		Ownership:       devOwnership{},
		Local:           bridge.Local{MaxConcurrent: o.maxConcurrent, Lease: o.lease},
		Background:      bridge.Background{RetainEnded: o.retainEnded},
		HTTP:            o.http,
		Limits:          o.limits,
		MaxEventBytes:   o.maxEventBytes,
		ShutdownTimeout: o.drain,
		Metrics:         metrics,
		TracerProvider:  tracerProvider,
		Logger:          log,
	})
	if err != nil {
		return err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	b.Mount(e)
	web.Register(e) // the demo page at /, outside the API and its auth
	if o.metrics {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))
	}

	listener, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	addr := listener.Addr().String()
	fmt.Fprintf(stdout, "taskbridge host listening on http://%s\n", addr)
	if ready != nil {
		ready <- addr
	}
	if o.pprofAddr != "" {
		stop, err := serveProfiler(o.pprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	return b.Serve(ctx, listener, e)
}

// serveProfiler serves net/http/pprof on addr until stop is called.
func serveProfiler(addr string, log *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Error("the profiler stopped", "err", err)
		}
	}()
	log.Info("profiler listening", "addr", "http://"+l.Addr().String()+"/debug/pprof/")
	return func() { _ = srv.Close(); <-done }, nil
}
