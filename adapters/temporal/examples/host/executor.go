package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/temporal"
	"github.com/taskbridge-go/taskbridge/adapters/temporal/examples/host/tasks"
	"github.com/taskbridge-go/taskbridge/examples/host/hostapp"
)

// reportTimeout is the host's default of -temporal-report-timeout, shorter
// than temporal.DefaultReportTimeout: a report is one store append, and a
// retry is harmless (its key stores it once).
const reportTimeout = 10 * time.Second

// temporalFlags are the settings of -executor temporal.
type temporalFlags struct {
	address           string
	namespace         string
	taskQueue         string
	worker            bool
	reconcileInterval time.Duration
	reportTimeout     time.Duration
}

// temporalExecutor is -executor temporal: the executor of package temporal
// over a client of the flags' server, the host's store and the bridge's
// Reporter, with the task types of package tasks.
func temporalExecutor() hostapp.Executor {
	var f temporalFlags
	return hostapp.Executor{
		Name: "temporal",
		Help: "the tasks run as Temporal workflows (-temporal-*), on the worker of any host process",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.address, "temporal-address", "", "with -executor temporal: the Temporal frontend, host:port (required)")
			fs.StringVar(&f.namespace, "temporal-namespace", "default", "with -executor temporal: the Temporal namespace")
			fs.StringVar(&f.taskQueue, "temporal-task-queue", temporal.DefaultTaskQueue, "with -executor temporal: the task queue of the workflows (every process of one host uses the same)")
			fs.BoolVar(&f.worker, "temporal-worker", true, "with -executor temporal: run a worker in this process; false serves the API alone, "+
				"and the workflows run in another process: the same command with the worker on (its own -addr; it serves the API too)")
			fs.DurationVar(&f.reconcileInterval, "temporal-reconcile-interval", temporal.DefaultReconcileInterval, "with -executor temporal: how often to look for workflows ended outside taskbridge (terminated, timed out) and fail their tasks")
			fs.DurationVar(&f.reportTimeout, "temporal-report-timeout", reportTimeout, "with -executor temporal: how long one try of a report (a local activity: a store append) may take before it is tried again")
		},
		Check: func() error {
			if f.address == "" {
				return errors.New("-executor temporal needs -temporal-address")
			}
			return nil
		},
		New: func(ctx context.Context, env hostapp.Env) (hostapp.Wiring, error) { return f.wire(ctx, env) },
	}
}

// wire dials Temporal and returns the bridge's Executor hook, which makes
// the Executor, starts the Worker (stopped by the bridge's Shutdown) and
// the Reconciler; Close stops the Reconciler and closes the client.
func (f temporalFlags) wire(ctx context.Context, env hostapp.Env) (hostapp.Wiring, error) {
	c, err := client.DialContext(ctx, client.Options{HostPort: f.address, Namespace: f.namespace, Logger: log.NewStructuredLogger(env.Logger)})
	if err != nil {
		return hostapp.Wiring{}, fmt.Errorf("dialing Temporal at %s: %w", f.address, err)
	}
	var (
		stopReconciler = func() {}
		once           sync.Once
	)
	hook := func(rep taskbridge.Reporter) (taskbridge.TaskExecutor, error) {
		cfg := temporal.Config{Client: c, TaskQueue: f.taskQueue, Types: tasks.Types(), Reporter: rep, Suspensions: env.Store,
			ReportTimeout: f.reportTimeout, Logger: env.Logger}
		ex, err := temporal.New(cfg)
		if err != nil {
			return nil, err
		}
		stopReconciler = reconcile(env.Store, &temporal.Reconciler{Client: c, Tasks: env.Store, Reporter: rep, Interval: f.reconcileInterval, Logger: env.Logger})
		if !f.worker {
			return ex, nil
		}
		w, err := temporal.NewWorker(cfg)
		if err != nil {
			return nil, err
		}
		if err := w.Start(); err != nil {
			return nil, err
		}
		return struct {
			*temporal.Executor
			*temporal.Worker // its Shutdown, called by the bridge's
		}{ex, w}, nil
	}
	return hostapp.Wiring{Executor: hook, Close: func() {
		once.Do(func() {
			stopReconciler()
			c.Close()
		})
	}}, nil
}

// reconcile runs r until the returned stop is called; stop waits for it.
// It starts once the store is ready (a store that is a
// taskbridge.ReadinessProbe: PostgreSQL's schema is migrated by the
// bridge's Run), so that its first passes do not meet missing tables.
func reconcile(store taskbridge.Store, r *temporal.Reconciler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if probe, ok := store.(taskbridge.ReadinessProbe); ok {
			for probe.Check(ctx) != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
		_ = r.Run(ctx) // ends with ctx
	}()
	return func() { cancel(); <-done }
}
