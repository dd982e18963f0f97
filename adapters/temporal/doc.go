// Package temporal is a taskbridge.TaskExecutor on Temporal: each task
// runs as one workflow, so a task survives the death of every host
// process. It is its own Go module, so that only hosts that use it pull
// the Temporal SDK.
//
// A host builds one Config and from it an Executor (which starts, cancels
// and resumes workflows; give it to the bridge or services as the
// executor) and a Worker (which runs the workflows and their activities;
// Start it with the host and Stop it on shutdown). Any number of replicas
// may run both: the Executor holds no state, and Temporal hands each
// workflow task to one Worker. With the bridge, both come from its
// Executor hook, and the bridge's Shutdown stops the Worker:
//
//	Executor: func(rep taskbridge.Reporter) (taskbridge.TaskExecutor, error) {
//		cfg := temporal.Config{Client: c, Types: types, Reporter: rep, Suspensions: store}
//		ex, err := temporal.New(cfg)
//		if err != nil {
//			return nil, err
//		}
//		w, err := temporal.NewWorker(cfg)
//		if err != nil {
//			return nil, err
//		}
//		if err := w.Start(); err != nil {
//			return nil, err
//		}
//		return struct {
//			*temporal.Executor
//			*temporal.Worker // its Shutdown method
//		}{ex, w}, nil
//	},
//
// # Task types
//
// A TaskType names a kind of task, its task queue and a Handler. The
// Handler is workflow code: it runs inside the task's workflow with a
// workflow.Context, waits with workflow timers, does its side effects in
// activities of its own and must be deterministic (see the workflow
// package of go.temporal.io/sdk). Typed makes a Handler of a function with
// a typed input and result, as bridge.Typed does for the local executor:
//
//	review := temporal.TaskType{
//		Name: "review",
//		Run: temporal.Typed(func(ctx workflow.Context, in ReviewInput, run temporal.Run) (ReviewResult, error) {
//			if err := run.Progress(ctx, taskbridge.Progress{Percent: 10}); err != nil {
//				return ReviewResult{}, err
//			}
//			action, err := run.Suspend(ctx, taskbridge.SuspendRequest{
//				Kind: "USER_ACTION_REQUIRED", ReasonCode: "APPROVE", AllowedActions: []string{"approve", "reject"},
//				ExpiresAt: workflow.Now(ctx).Add(24 * time.Hour),
//			})
//			if err != nil {
//				return ReviewResult{}, err
//			}
//			return ReviewResult{Decision: action.ActionType}, nil
//		}),
//	}
//
// # Life of a task
//
// Executor.Submit starts the workflow WorkflowName with id
// WorkflowID(taskID) on the type's task queue, with the task (less its
// attachments, which stay in the store) as input. The id reuse policy
// rejects a duplicate and the conflict policy uses a running workflow, so
// a repeated submit never starts a second workflow: it returns nil.
//
// The workflow reports TASK_STARTED, runs the handler and reports the end:
// a nil error TASK_COMPLETED with the result, a *taskbridge.Failure
// TASK_FAILED with its code, any other error TASK_FAILED with
// CodeHandlerError; a final report the Reporter refuses as an invalid
// event fails the task with CodeInvalidReport. A task type no worker
// registered fails with CodeUnknownTaskType. The workflow then completes
// (a failed task is a completed workflow). A panic in a handler is a
// workflow task failure, which Temporal retries until a fixed worker runs
// it.
//
// # Reports and idempotency
//
// Every report is one local activity (ActivityReport) that calls the
// Reporter with the key "<workflow id>/<n>", n counting the workflow's
// reports. A local activity runs in the worker that runs the workflow
// task and its outcome is recorded in the workflow's history, without a
// round trip through the server's activity queue: on the development
// server one task reports about 700 events a second this way, against
// about 10 with one regular activity per report, and batching regular
// activities would hold events back from the task's followers (see
// BenchmarkReportsOfOneWorkflow). Workflow code is replayed
// deterministically, so a report has the same key in every replay and
// every retry, also when the worker died and another one runs the
// workflow task again; the store appends a key once
// (taskbridge.WithReportKey), so a repeated report stores nothing more.
// Refusals that a retry cannot change (the task ended, an invalid event, a
// task that is gone) are non-retryable activity errors, which Run's
// methods return as taskbridge.ErrTaskEnded and
// *taskbridge.InvalidInputError; anything else, such as an unavailable
// store, is retried without a bound on attempts.
//
// The key holds the workflow id, not the run id: a workflow reset by an
// operator replays up to the reset point and numbers its reports as the
// old run did, so the reports the old run made are not stored again (and
// one that differs at the same number is taken as already made; a task's
// history is never rewritten).
//
// # Suspensions
//
// Run.Suspend reports TASK_SUSPENDED and waits in the workflow, not in a
// host goroutine: a suspension outlives every host restart. An action
// accepted on any replica is handed to the task by Executor.Resume, which
// signals the workflow (SignalResume); the workflow takes the outcome of
// the suspension it waits on and drops outcomes of others and repeats.
// With an ExpiresAt the workflow also sets a timer. When it fires, a
// local activity (ActivityExpire) asks the store to expire the suspension, the
// same ExpireSuspensions that retention runs, and the store judges: if an
// action was accepted first, Suspend returns that action, otherwise an
// error wrapping taskbridge.ErrSuspensionExpired. The activity marks the
// outcome handed off, as the workflow has it. An expiry found by the
// retention service first arrives as a Resume without an action, with the
// same effect.
//
// # Cancellation
//
// Executor.Cancel requests the cancellation of the workflow (the cancel
// service has recorded the reason with the task first). The handler's
// context is cancelled; whatever the handler then returns, the workflow
// reports TASK_CANCELLED on a disconnected context, and the Reporter
// writes the reason recorded with the cancel request (the default one for
// a cancel made from Temporal's side). The workflow then ends cancelled.
// A workflow terminated, timed out or failed outside taskbridge reports
// nothing: the Reconciler ends its task. It asks Temporal's visibility for
// the task workflows that closed so, and ends each live task whose
// workflow's latest run is closed (a reset's terminated old run does not
// count) with TASK_FAILED, code CodeWorkflowTerminated,
// CodeWorkflowTimedOut or CodeWorkflowFailed.
//
// # Signal vs Update
//
// Resume signals rather than sending an Update. An Update needs a running
// worker to accept it before the call returns, so with every host down
// (the case durable execution is for) a Resume would fail and the
// hand-off wait for a retry; a signal is recorded by the Temporal service
// alone and reaches the workflow whenever a worker runs it again. An
// Update's other gift, a validator that may refuse, has nothing to judge:
// the store already accepted the action (its receipt is durable) before
// the hand-off, and the workflow only takes it. Delivery stays exact
// because the hand-off is retried until the signal is recorded (the
// services' Reconciler) and the workflow drops repeats.
package temporal
