package temporal

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Worker runs the task workflows of a host: one Temporal worker per task
// queue of its types, each with the task workflow and its activities.
// Any number of host processes may run a Worker for the same queues;
// Temporal hands each workflow task and activity to one of them. Its
// methods are safe for concurrent use; Stop and Shutdown are idempotent.
type Worker struct {
	workers []worker.Worker

	mu      sync.Mutex
	started int // how many of workers were started
	stopped bool
}

// NewWorker returns a Worker for cfg's types. It needs cfg.Client,
// cfg.Reporter, cfg.Suspensions and at least one type, each with a Run
// handler.
func NewWorker(cfg Config) (*Worker, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("temporal: Config.Client is required")
	case cfg.Reporter == nil:
		return nil, errors.New("temporal: Config.Reporter is required by a Worker")
	case cfg.Suspensions == nil:
		return nil, errors.New("temporal: Config.Suspensions is required by a Worker")
	case len(cfg.Types) == 0:
		return nil, errors.New("temporal: a Worker needs at least one TaskType")
	}
	queues, err := cfg.queues(true)
	if err != nil {
		return nil, err
	}
	wf, acts := cfg.workflow(), &Activities{Reporter: cfg.Reporter, Suspensions: cfg.Suspensions, Logger: cfg.Logger}
	w := &Worker{}
	for _, q := range slices.Sorted(maps.Keys(set(maps.Values(queues)))) {
		tw := worker.New(cfg.Client, q, cfg.WorkerOptions)
		register(tw, wf, acts)
		w.workers = append(w.workers, tw)
	}
	return w, nil
}

// workflow is the task workflow of cfg's types.
func (cfg Config) workflow() *taskWorkflow {
	types := make(map[string]TaskType, len(cfg.Types))
	for _, t := range cfg.Types {
		types[t.Name] = t
	}
	timeout := cfg.ReportTimeout
	if timeout <= 0 {
		timeout = DefaultReportTimeout
	}
	return &taskWorkflow{types: types, activity: activityOptions(timeout)}
}

// Registry is where the task workflow and its activities are registered:
// a worker.Worker, or a test environment of go.temporal.io/sdk/testsuite.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers the task workflow of cfg's types and the activities
// acts on r. NewWorker does it for its workers; tests of task types call
// it on a test environment.
func (cfg Config) Register(r Registry, acts *Activities) {
	register(r, cfg.workflow(), acts)
}

// register registers wf and acts under their names.
func register(r Registry, wf *taskWorkflow, acts *Activities) {
	r.RegisterWorkflowWithOptions(wf.run, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivityWithOptions(acts.report, activity.RegisterOptions{Name: ActivityReport})
	r.RegisterActivityWithOptions(acts.expire, activity.RegisterOptions{Name: ActivityExpire})
}

// set is the set of what seq yields.
func set[T comparable](seq iter.Seq[T]) map[T]struct{} {
	out := make(map[T]struct{})
	for v := range seq {
		out[v] = struct{}{}
	}
	return out
}

// Start starts polling every task queue. When one fails to start, the
// ones started are stopped and the error returned.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return errors.New("temporal: the Worker was stopped")
	}
	for ; w.started < len(w.workers); w.started++ {
		if err := w.workers[w.started].Start(); err != nil {
			w.stopLocked()
			return fmt.Errorf("temporal: starting a worker: %w", err)
		}
	}
	return nil
}

// Stop stops every worker it started and waits until they have stopped:
// running workflow tasks and activities are let go, and other workers (of
// other processes) pick them up. Tasks are not ended: they live in
// Temporal.
func (w *Worker) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked()
}

// Shutdown stops the Worker as Stop does, and returns nil once it has
// stopped, or ctx's error when ctx ends first (the workers then go on
// stopping in the background, within worker.Options.WorkerStopTimeout).
// With it a host may hand the Worker's end to whatever shuts its executor
// down, such as a bridge (an executor with a Shutdown method).
func (w *Worker) Shutdown(ctx context.Context) error {
	stopped := make(chan struct{})
	go func() { // ends when Stop returns
		w.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Worker) stopLocked() {
	w.stopped = true
	for ; w.started > 0; w.started-- {
		w.workers[w.started-1].Stop()
	}
}
