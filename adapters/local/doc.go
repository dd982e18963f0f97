// Package local is an in-process taskbridge.TaskExecutor: each task runs a
// Go function (a Handler) on a goroutine of the host process. It suits
// development, tests, the example host and work that may be lost when the
// process stops; durable execution belongs to an adapter on a workflow
// engine.
//
// # Task types
//
// A TaskType names a kind of task and runs it (its input was checked
// against the contract before the task was created):
//
//	greet := local.TaskType{
//		Name: "greet",
//		Run: func(ctx context.Context, run *local.Run) (json.RawMessage, error) {
//			if err := run.Progress(ctx, taskbridge.Progress{Percent: 50}); err != nil {
//				return nil, err
//			}
//			return json.RawMessage(`"hello"`), nil
//		},
//	}
//	executor := local.New(local.Config{Reporter: reporter}, greet)
//	defer executor.Shutdown(ctx)
//
// # Life of a task
//
// Submit returns at once. The task waits on its own goroutine for one of
// Config.MaxConcurrent slots (DefaultMaxConcurrent when zero); then the
// executor reports TASK_STARTED and calls the handler, which reports progress
// and messages through its *Run. What the handler returns ends the task: a
// nil error reports TASK_COMPLETED with the result, a *taskbridge.Failure
// reports TASK_FAILED with its code, any other error TASK_FAILED with
// CodeHandlerError, and a panic is recovered, logged and reported as
// CodeHandlerPanic.
//
// # Suspensions
//
// Run.Suspend reports TASK_SUSPENDED and waits until Executor.Resume hands
// over the suspension's outcome: the accepted action, or its expiry
// (taskbridge.ErrSuspensionExpired). The waiter is registered before the event is
// reported, so an outcome that arrives at once is never lost; Resume is
// idempotent. A waiting task gives up its concurrency slot, so any number of
// suspended tasks can wait without stopping others from running.
//
// # Cancellation and shutdown
//
// Executor.Cancel cancels the handler's context, and the task ends with
// TASK_CANCELLED whatever the handler returns (without TASK_STARTED when it
// was still waiting for a slot). Executor.Shutdown stops taking tasks,
// cancels all of them, reports each one that had not ended as TASK_FAILED
// with CodeExecutorShutdown (retryable), and waits for every goroutine the
// executor started. Final reports use a context that is never cancelled, so
// a task's terminal event is always written when the Reporter can write it;
// Reporter errors are logged.
package local
