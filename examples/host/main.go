// Command host is the example taskbridge-go host: the contract served by
// Echo over the in-memory or the PostgreSQL store and the local executor,
// with the `scripted` and `echo` task types. Every end-to-end test,
// benchmark and browser test runs against it.
//
//	go run ./examples/host -addr 127.0.0.1:8080
//	go run ./examples/host -store postgres -postgres-url postgres://app@127.0.0.1/app
//
// With PostgreSQL, several hosts on different addresses share one database
// as replicas: a client may create on one, stream from another and resume
// on a third. The host starts while the database is down: /ready answers 503
// until the schema is migrated (retried with backoff) and the notification
// connection is up.
//
// Flags may also be set through TASKBRIDGE_* environment variables (for
// -addr, TASKBRIDGE_ADDR); a flag on the command line wins. Authentication is
// a development resolver: `Authorization: Bearer <subject>` or
// `?access_token=<subject>`, and the subject owns what it creates.
//
// It also serves a demo page at / (package web) that starts a scripted task
// and shows its events live, and Prometheus metrics at /metrics (package
// prommetrics, with the Go runtime's and the process's; -metrics=false
// turns them off). With OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set it exports OpenTelemetry traces
// over OTLP/HTTP.
package main

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
	"os/signal"
	"strings"
	"syscall"
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// options are the host's settings.
type options struct {
	addr           string
	store          string
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
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flagSet(&o, stderr)
	if err := applyEnv(fs); err != nil {
		return o, err
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, o.check()
}

// flagSet defines the host's flags on o; every one of them works (a flag
// comes with the feature it sets, never before).
func flagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs) }
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	fs.StringVar(&o.store, "store", "memory", "store: memory or postgres")
	fs.StringVar(&o.postgresURL, "postgres-url", "", "PostgreSQL URL, for -store postgres")
	fs.StringVar(&o.postgresSchema, "postgres-schema", postgres.DefaultSchema, "PostgreSQL schema of the tables, for -store postgres (replicas share it)")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "when set, serve the Go profiler (net/http/pprof) on this address, apart from the API")
	fs.BoolVar(&o.metrics, "metrics", true, "serve Prometheus metrics at /metrics")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "how long shutdown waits for requests and tasks to finish")
	fs.DurationVar(&o.retainEnded, "retain-ended", bridge.DefaultRetainEnded, "how long an ended task is kept before it is removed")
	fs.IntVar(&o.maxConcurrent, "max-concurrent", 0, "how many tasks run at once (0 is the local executor's default)")
	fs.IntVar(&o.maxEventBytes, "max-event-bytes", bridge.DefaultMaxEventBytes, "the largest payload an event may carry, in bytes; a report over it is refused")
	fs.DurationVar(&o.lease, "lease", bridge.DefaultLease, "with -store postgres: how long a task stays live after its replica died, before another ends it")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&o.http.MaxConnections, "max-conns", 0, "open connections at the most (0: the open-file limit less a twentieth; -1: no cap)")
	fs.IntVar(&o.http.MaxConnectionsPerClient, "max-conns-per-client", 0, fmt.Sprintf("open connections from one client address at the most (0: %d; -1: no cap)", bridge.DefaultMaxConnectionsPerClient))
	fs.DurationVar(&o.http.BodyReadTimeout, "body-read-timeout", bridge.DefaultBodyReadTimeout, "how long a request body may stall before the request is cut")
	fs.DurationVar(&o.http.IdleTimeout, "idle-timeout", bridge.DefaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&o.limits.StreamsPerSubject, "streams-per-subject", 1000, "open streams of one caller at the most (0: no cap)")
	fs.Float64Var(&o.limits.CreatesPerSecond, "creates-per-second", 200, "creates of one caller a second at the most, on average (0: no cap)")
	fs.IntVar(&o.limits.CreatesBurst, "creates-burst", 0, "creates of one caller at once at the most (0: one second's worth)")
	return fs
}

// envName is the environment variable that sets a flag: TASKBRIDGE_ and
// the flag's name in upper case, with - as _.
func envName(flagName string) string {
	return "TASKBRIDGE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag whose environment variable is set; the command
// line, parsed after, wins.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && err == nil {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s: %w", envName(f.Name), serr)
			}
		}
	})
	return err
}

// usage prints what -h shows: the flags, the environment variable of each,
// and the other variables the host reads.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: host [flags]

The example taskbridge-go host: the TaskBridge API (in-memory or PostgreSQL
store, local executor) with the scripted and echo task types, a demo page at
/ and Prometheus metrics at /metrics. Authentication is for development only:
the bearer token (or ?access_token=) is the caller's name.

Flags:
`)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Environment:
  Each flag may be set by a variable instead; a flag on the command line wins.
`)
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  %-36s -%s\n", envName(f.Name), f.Name)
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
func (o options) check() error {
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

// run starts the host and serves until ctx ends, then shuts down within the
// drain time. It reports the bound address on ready (when not nil) and
// returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) int {
	o, err := parseOptions(args, stderr)
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
	if err := serve(ctx, o, log, stdout, ready); err != nil {
		log.Error("host stopped", "err", err)
		return 1
	}
	return 0
}

// serve wires the host and serves until ctx ends; then the bridge shuts
// down (streams end, WebSockets close with 1001, tasks stop) and the HTTP
// server after it, each within the drain time.
func serve(ctx context.Context, o options, log *slog.Logger, stdout io.Writer, ready chan<- string) error {
	store, closeStore, err := openStore(o, log)
	if err != nil {
		return err
	}
	defer closeStore()
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
		TaskTypes:       tasktypes.TaskTypes(tasks.Host{}),
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
