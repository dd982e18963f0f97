// Package memory is an in-process taskbridge.Store: tasks, event histories,
// suspensions and action receipts live in the memory of one process and are
// lost when it stops. It suits development, tests, the example host and
// single-replica deployments that can afford to lose their tasks on restart.
//
//	store := memory.New()
//	task, created, err := store.CreateTask(ctx, newTask)
//
// # Concurrency
//
// Every method is safe for concurrent use. Each task has its own lock, so
// work on different tasks runs in parallel; an append, its status move, its
// suspension and an action's receipt commit together under that lock. The
// periodic sweeps (ExpireSuspensions, PendingHandOffs, PruneReceipts,
// DeleteEndedBefore) read small indexes instead of scanning every task.
//
// # Copies
//
// Nothing a caller passes in or gets back aliases the store's state: byte
// slices (JSON, attachment data), string slices and receipts are copied on
// the way in and on the way out, so a caller may change what it holds.
//
// # Times
//
// Event CreatedAt, Task UpdatedAt and Task EndedAt are stamped with
// time.Now in UTC, never earlier than the task's previous event, so a task's
// event times never decrease even if the wall clock steps back. Times a
// caller supplies (NewTask.CreatedAt, ActionRequest.Now, the now of
// ExpireSuspensions) are kept as given, in UTC; a zero NewTask.CreatedAt or
// ActionRequest.Now means time.Now.
//
// # Announcements
//
// WatchAppends runs fn on the goroutine that called it. Appends queue an
// announcement per watcher without blocking; announcements of one task that
// queue up while fn runs are coalesced into the newest one. A memory store
// has no notification outage, so it never announces an empty TaskID.
//
// # Choices the ports leave open
//
// A limit of zero or less makes ReadAfter and the sweeps do nothing. Creating
// a task whose ID is taken by another (owner, ClientRequestID) fails. A
// Suspension may only come with a TASK_SUSPENDED event and needs a SuspendID.
// A terminal event needs its own terminal status (TASK_COMPLETED with
// COMPLETED, TASK_FAILED with FAILED, TASK_CANCELLED with CANCELLED) and a
// terminal status its own event; any other pairing is ErrInvalidTransition.
// When a task has several open suspensions, OpenSuspensionOf returns the
// newest. MarkHandedOff on a suspension that has nothing to hand off (open
// or closed) changes nothing and returns nil.
package memory
