package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskbridge-go/taskbridge"
)

// DefaultMaxConcurrent is how many handlers run at once when
// Config.MaxConcurrent is 0 (or negative).
const DefaultMaxConcurrent = 64

// Failure codes the executor reports on its own, for outcomes its handlers
// did not describe themselves.
const (
	// CodeHandlerError: the handler returned an error that is not a *Failure.
	CodeHandlerError = "HANDLER_ERROR"
	// CodeHandlerPanic: the handler panicked; the panic is logged, not reported.
	CodeHandlerPanic = "HANDLER_PANIC"
	// CodeExecutorShutdown: Shutdown stopped the task (retryable).
	CodeExecutorShutdown = "EXECUTOR_SHUTDOWN"
	// CodeStartFailed: TASK_STARTED could not be reported, so the handler
	// never ran (retryable).
	CodeStartFailed = "START_FAILED"
	// CodeInvalidReport: the Reporter refused the task's final report as an
	// invalid event (for example a result that is not JSON).
	CodeInvalidReport = "INVALID_REPORT"
)

// Causes of a task context's cancellation.
var (
	errCancelRequested = errors.New("local: task cancellation was requested")
	errShutdown        = errors.New("local: executor shut down")
)

// Handler runs one task of a TaskType. It is called on its own goroutine
// after TASK_STARTED was reported, with a ctx that ends when the task is
// cancelled or the executor shuts down, and reports through run. Its return
// decides the terminal event: a nil error completes the task with result
// (nil is null); a *taskbridge.Failure (found with errors.As) fails it with
// that failure; any other error fails it with CodeHandlerError. A cancelled task
// ends with TASK_CANCELLED whatever the handler returns, so a handler may
// simply return ctx.Err().
type Handler func(ctx context.Context, run *Run) (result json.RawMessage, err error)

// TaskType is a kind of task the executor runs. Which inputs it accepts is
// checked before a task is created, against the contract.
type TaskType struct {
	// Name is the task type clients give at create; unique and not empty.
	Name string
	// Run does the work; it is required.
	Run Handler
}

// Config configures an Executor. The zero value of a field is its default.
type Config struct {
	// Reporter receives every report of every task; required.
	Reporter taskbridge.Reporter
	// MaxConcurrent bounds how many handlers run at once; 0 (or less) is
	// DefaultMaxConcurrent. A handler waiting in Run.Suspend does not count.
	MaxConcurrent int
	// Logger receives reporter failures and handler panics; nil discards.
	Logger *slog.Logger
	// Metrics hears how many tasks wait for a slot and how many run
	// (Metrics.ExecutorLoad) whenever either changes; nil tells nothing.
	Metrics taskbridge.Metrics
	// Tracer makes a span of each task's run ("run <task type>", from its
	// submission to its final report), a child of the span that created
	// the task (Task.TraceParent); the handler's context and the reports
	// carry it. nil traces nothing.
	Tracer trace.Tracer
}

// Executor is an in-process taskbridge.TaskExecutor: each submitted task
// runs its TaskType's Handler on a goroutine the Executor owns, at most
// MaxConcurrent at a time. Tasks live only in this process: nothing survives
// a restart. All methods are safe for concurrent use. After Shutdown,
// Submit fails with taskbridge.ErrClosed (wrapped); Cancel and Resume still
// reach the tasks that have not ended yet.
type Executor struct {
	reporter taskbridge.Reporter
	log      *slog.Logger
	types    map[string]TaskType
	slots    chan struct{} // a token per running handler
	metrics  taskbridge.Metrics
	tracer   trace.Tracer // nil: no spans

	loadMu  sync.Mutex // orders what metrics hear of the load
	waiting int        // guarded by loadMu: tasks waiting for a slot

	base      context.Context // parent of every task context; Shutdown cancels it
	stop      context.CancelCauseFunc
	reportCtx context.Context // never cancelled: final reports are always written

	mu     sync.Mutex
	closed bool
	runs   map[string]*Run // live tasks by id, until their final report

	wg       sync.WaitGroup // one per task goroutine
	shutdown sync.Once
	idle     chan struct{} // closed when every task goroutine ended after Shutdown
}

var _ taskbridge.TaskExecutor = (*Executor)(nil)

// New returns an Executor that runs the given task types. It panics, as a
// programming error, when cfg.Reporter is nil or when a type has an empty or
// duplicate name or no Run handler.
func New(cfg Config, types ...TaskType) *Executor {
	if cfg.Reporter == nil {
		panic("local: Config.Reporter is required")
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = taskbridge.NopMetrics{}
	}
	byName := make(map[string]TaskType, len(types))
	for _, t := range types {
		switch _, dup := byName[t.Name]; {
		case t.Name == "":
			panic("local: a TaskType has an empty Name")
		case dup:
			panic(fmt.Sprintf("local: duplicate TaskType %q", t.Name))
		case t.Run == nil:
			panic(fmt.Sprintf("local: TaskType %q has no Run handler", t.Name))
		}
		byName[t.Name] = t
	}
	base, stop := context.WithCancelCause(context.Background())
	return &Executor{
		reporter:  cfg.Reporter,
		log:       cfg.Logger,
		types:     byName,
		slots:     make(chan struct{}, cfg.MaxConcurrent),
		metrics:   cfg.Metrics,
		tracer:    cfg.Tracer,
		base:      base,
		stop:      stop,
		reportCtx: context.WithoutCancel(base),
		runs:      make(map[string]*Run),
		idle:      make(chan struct{}),
	}
}

// Submit takes the task and returns at once: the task waits for a free slot
// on its own goroutine, then is started. It fails with
// taskbridge.ErrSubmission (wrapped) for an unknown type, and also wrapping
// taskbridge.ErrClosed after Shutdown. Submitting a task that is still
// running here again does nothing.
func (e *Executor) Submit(_ context.Context, t taskbridge.Task) error {
	typ, ok := e.types[t.Type]
	if !ok {
		return fmt.Errorf("%w: %w: %q", taskbridge.ErrSubmission, taskbridge.ErrUnknownTaskType, t.Type)
	}
	if t.ID == "" {
		return fmt.Errorf("%w: the task has no id", taskbridge.ErrSubmission)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("%w: local executor: %w", taskbridge.ErrSubmission, taskbridge.ErrClosed)
	}
	if _, running := e.runs[t.ID]; running {
		return nil
	}
	ctx, cancel := context.WithCancelCause(e.base)
	r := &Run{e: e, task: t, typ: typ, ctx: ctx, cancel: cancel, reportCtx: e.reportCtx, span: trace.SpanFromContext(ctx), waiters: make(map[string]*waiter)}
	if e.tracer != nil {
		_, r.span = e.tracer.Start(continueTrace(t.TraceParent), "run "+t.Type,
			trace.WithAttributes(attribute.String("taskbridge.task.id", t.ID), attribute.String("taskbridge.task.type", t.Type)))
		r.ctx, r.reportCtx = trace.ContextWithSpan(ctx, r.span), trace.ContextWithSpan(e.reportCtx, r.span)
	}
	e.runs[t.ID] = r
	e.wg.Go(func() { e.execute(r) })
	return nil
}

// Cancel cancels the task's context; the task then ends with
// TASK_CANCELLED, also when it had not started yet. It returns
// taskbridge.ErrTaskNotRunning (wrapped) for a task the executor does not
// run (any more), and nil for a repeat.
func (e *Executor) Cancel(_ context.Context, taskID string) error {
	r := e.lookup(taskID)
	if r == nil {
		return fmt.Errorf("local: task %s: %w", taskID, taskbridge.ErrTaskNotRunning)
	}
	r.cancelRequested.Store(true)
	r.cancel(errCancelRequested)
	return nil
}

// Resume hands the outcome of a suspension to the task waiting on it in
// Run.Suspend. A repeat, or an outcome for a suspension its handler no
// longer waits on, returns nil. It returns taskbridge.ErrTaskNotRunning
// (wrapped) for a task the executor does not run (any more), and
// taskbridge.ErrSuspensionNotFound (wrapped) when the running task never
// opened that suspension.
func (e *Executor) Resume(_ context.Context, res taskbridge.Resume) error {
	r := e.lookup(res.TaskID)
	if r == nil {
		return fmt.Errorf("local: task %s: %w", res.TaskID, taskbridge.ErrTaskNotRunning)
	}
	return r.deliver(res)
}

// Shutdown stops taking tasks, cancels every task (each still running ends
// with TASK_FAILED, code CodeExecutorShutdown, retryable), and waits until
// every goroutine the executor started has ended, or ctx ends: then it
// returns ctx's error and the tasks go on ending in the background. It may
// be called again, for example with a longer ctx, to keep waiting.
func (e *Executor) Shutdown(ctx context.Context) error {
	e.shutdown.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.stop(errShutdown)
		// Ends when the last task goroutine ends; no task goroutine can
		// be added any more.
		go func() {
			e.wg.Wait()
			close(e.idle)
		}()
	})
	select {
	case <-e.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Tasks returns the ids of the tasks the executor holds now, in no order:
// waiting for a slot, running or suspended, until their final report was
// made.
func (e *Executor) Tasks() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, 0, len(e.runs))
	for id := range e.runs {
		ids = append(ids, id)
	}
	return ids
}

// continueTrace is a context whose remote parent span is the one a W3C
// traceparent names; a context without one for "".
func continueTrace(traceParent string) context.Context {
	ctx := context.Background()
	if traceParent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceParent})
}

// loadChanged moves the count of waiting tasks by waiting and tells the
// metrics the load, under one lock so that they hear the changes in order.
func (e *Executor) loadChanged(waiting int) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	e.waiting += waiting
	e.metrics.ExecutorLoad(e.waiting, len(e.slots))
}

func (e *Executor) lookup(taskID string) *Run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[taskID]
}

// execute is a task's goroutine: wait for a slot, start, run the handler,
// report the end, forget the task.
func (e *Executor) execute(r *Run) {
	defer func() {
		e.mu.Lock()
		delete(e.runs, r.task.ID)
		e.mu.Unlock()
		r.cancel(nil)
		r.span.End()
	}()
	if !r.acquireSlot() || r.ctx.Err() != nil {
		// Cancelled or shut down before it could start: it never starts.
		r.releaseSlot()
		r.finish()
		e.reportEnd(r, nil, false, r.ctx.Err())
		return
	}
	if err := e.reporter.Start(r.reportCtx, r.task.ID, ""); err != nil {
		r.releaseSlot()
		r.finish()
		if errors.Is(err, taskbridge.ErrTaskEnded) {
			e.debug("task ended before it started", r.task.ID, err)
			return
		}
		e.log.LogAttrs(e.reportCtx, slog.LevelError, "reporting TASK_STARTED failed; the handler does not run",
			slog.String("taskId", r.task.ID), slog.Any("err", err))
		e.report(r.task.ID, "TASK_FAILED", e.reporter.Fail(r.reportCtx, r.task.ID, taskbridge.Failure{
			Code: CodeStartFailed, Message: "the task could not be started", Retryable: true,
		}))
		return
	}
	result, panicked, err := e.call(r)
	r.finish()
	r.releaseSlot()
	e.reportEnd(r, result, panicked, err)
}

// call runs the handler, turning a panic into panicked.
func (e *Executor) call(r *Run) (result json.RawMessage, panicked bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			e.log.LogAttrs(e.reportCtx, slog.LevelError, "task handler panicked",
				slog.String("taskId", r.task.ID), slog.String("taskType", r.typ.Name),
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
		}
	}()
	result, err = r.typ.Run(r.ctx, r)
	return result, false, err
}

// reportEnd reports the terminal event of a task whose handler returned (or
// never ran).
func (e *Executor) reportEnd(r *Run, result json.RawMessage, panicked bool, err error) {
	id := r.task.ID
	var f taskbridge.Failure
	var failure *taskbridge.Failure
	switch {
	case r.cancelRequested.Load():
		e.report(id, "TASK_CANCELLED", e.reporter.Cancelled(r.reportCtx, id))
		return
	case panicked:
		f = taskbridge.Failure{Code: CodeHandlerPanic, Message: "the task handler panicked"}
	case err == nil:
		rerr := e.reporter.Complete(r.reportCtx, id, result)
		if e.refused(r, rerr) {
			return
		}
		e.report(id, "TASK_COMPLETED", rerr)
		return
	case errors.Is(context.Cause(r.ctx), errShutdown):
		f = taskbridge.Failure{Code: CodeExecutorShutdown, Message: "the executor shut down before the task ended", Retryable: true}
	case errors.As(err, &failure):
		f = *failure
	default:
		f = taskbridge.Failure{Code: CodeHandlerError, Message: err.Error()}
	}
	rerr := e.reporter.Fail(r.reportCtx, id, f)
	if e.refused(r, rerr) {
		return
	}
	e.report(id, "TASK_FAILED", rerr)
}

// refused handles a final report the Reporter refused as an invalid event:
// the task fails with CodeInvalidReport instead, so it does not stay
// running forever (unless the Reporter ended it itself, as it does for a
// result that breaks its task type's schema).
func (e *Executor) refused(r *Run, err error) bool {
	var invalid *taskbridge.InvalidInputError
	if !errors.As(err, &invalid) {
		return false
	}
	e.log.LogAttrs(e.reportCtx, slog.LevelError, "the reporter refused a task's final report",
		slog.String("taskId", r.task.ID), slog.Any("err", err))
	if errors.Is(err, taskbridge.ErrTaskEnded) {
		return true
	}
	e.report(r.task.ID, "TASK_FAILED", e.reporter.Fail(r.reportCtx, r.task.ID, taskbridge.Failure{
		Code: CodeInvalidReport, Message: "the task's final report was refused: " + err.Error(),
	}))
	return true
}

// report logs a failed report: ErrTaskEnded only at debug level (the task
// was ended elsewhere, for example cancelled before it ran).
func (e *Executor) report(taskID, event string, err error) {
	switch {
	case err == nil:
	case errors.Is(err, taskbridge.ErrTaskEnded):
		e.debug("task had already ended; "+event+" not reported", taskID, err)
	default:
		e.log.LogAttrs(e.reportCtx, slog.LevelError, "reporting "+event+" failed",
			slog.String("taskId", taskID), slog.Any("err", err))
	}
}

func (e *Executor) debug(msg, taskID string, err error) {
	if e.log.Enabled(e.reportCtx, slog.LevelDebug) {
		e.log.LogAttrs(e.reportCtx, slog.LevelDebug, msg, slog.String("taskId", taskID), slog.Any("err", err))
	}
}
