package taskbridge

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// TaskRegistry keeps task records. All methods are safe for concurrent use.
type TaskRegistry interface {
	// CreateTask creates the task, or finds the one created before with the
	// same Owner and ClientRequestID and judges it with Task.CheckRepeat: it
	// returns that task and created=false when the fingerprints match, an
	// *IdempotencyConflictError (ErrIdempotencyConflict) naming it when they
	// differ. Concurrent identical creates make exactly one task.
	CreateTask(ctx context.Context, t NewTask) (task Task, created bool, err error)
	// GetTask returns the task, or ErrTaskNotFound.
	GetTask(ctx context.Context, taskID string) (Task, error)
	// RequestCancel records a cancel request on a live task: the first
	// request's reason is kept, repeats change nothing. It returns the task as
	// it is afterwards; an ended task is returned unchanged.
	RequestCancel(ctx context.Context, taskID, reason string) (Task, error)
	// DeleteEndedBefore removes up to limit tasks that ended before the given
	// time, whole (record, events, suspensions, receipts), and returns how
	// many it removed. A live task is never touched.
	DeleteEndedBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// Announcement says that a task's history grew up to EventID. An empty
// TaskID means any task may have changed (a notification channel was lost
// and restored): readers re-read from their cursors.
type Announcement struct {
	TaskID  string
	EventID uint64
}

// EventStore keeps each task's history. All methods are safe for concurrent use.
type EventStore interface {
	// Append adds an event to the task and applies its status move and
	// suspension in one step, stamping the event's id (the task's previous
	// last id plus one) and CreatedAt. It returns ErrTaskNotFound,
	// ErrTaskEnded after a terminal event, ErrCancelRequested for a terminal
	// event other than TASK_CANCELLED once cancellation was requested,
	// ErrInvalidTransition and ErrSuspensionExists. A terminal event must
	// carry its own terminal Status (TASK_COMPLETED with COMPLETED, and so
	// on) and a terminal Status needs its terminal event; other pairings are
	// ErrInvalidTransition. A Suspension goes only with TASK_SUSPENDED. A
	// terminal event closes any open suspension of the task. An append
	// whose Key the task has already seen returns the event of that Key
	// before any of these checks.
	Append(ctx context.Context, taskID string, a Append) (Event, error)
	// ReadAfter returns up to limit events with ids greater than after, in
	// order, or ErrTaskNotFound. When maxBytes is above 0 it also stops
	// before the event that would take the payloads it returns past
	// maxBytes, but returns the first event after the cursor however large
	// it is, so that a reader always moves on.
	ReadAfter(ctx context.Context, taskID string, after uint64, limit, maxBytes int) ([]Event, error)
	// WatchAppends calls fn after appends, from any process sharing the
	// store, until ctx ends; then it returns ctx's error. Calls to fn are
	// sequential; fn must not block. Announcements may be coalesced but never
	// lost: as soon as the watch is live, and after a notification outage,
	// fn gets an Announcement with an empty TaskID (re-read from your cursor).
	WatchAppends(ctx context.Context, fn func(Announcement)) error
}

// SuspensionStore keeps suspensions and the hand-off of their outcome to the
// executor. All methods are safe for concurrent use.
type SuspensionStore interface {
	// GetSuspension returns the suspension, or ErrSuspensionNotFound.
	GetSuspension(ctx context.Context, taskID, suspendID string) (Suspension, error)
	// OpenSuspensionOf returns the task's open suspension, if it has one.
	OpenSuspensionOf(ctx context.Context, taskID string) (s Suspension, ok bool, err error)
	// ExpireSuspensions moves up to limit open suspensions whose ExpiresAt
	// is at or before now to expired, pending hand-off, and returns how many.
	ExpireSuspensions(ctx context.Context, now time.Time, limit int) (int, error)
	// PendingHandOffs returns up to limit resolved or expired suspensions
	// whose outcome the executor has not taken yet, oldest first.
	PendingHandOffs(ctx context.Context, limit int) ([]Suspension, error)
	// MarkHandedOff records that the executor took the suspension's outcome.
	MarkHandedOff(ctx context.Context, taskID, suspendID string) error
}

// ActionReceiptStore records client actions. All methods are safe for
// concurrent use.
type ActionReceiptStore interface {
	// RecordAction judges an action and records its outcome in one step. A
	// repeat of an accepted ClientActionID is judged by ActionReceipt.CheckRepeat:
	// with the same fingerprint it is DEDUPLICATED, with another an
	// *IdempotencyConflictError. Otherwise it returns ErrSuspensionNotFound
	// for a suspension the task does not have, or judges the suspension with
	// Suspension.Judge: an *ActionNotAllowedError; already resolved or
	// closed, REJECTED_ALREADY_RESOLVED; expired (also when found overdue
	// now, which expires it), REJECTED_EXPIRED; open, ACCEPTED: the receipt
	// is stored, the suspension resolved with a pending hand-off and the
	// TASK_ACTION_ACCEPTED event appended, all or nothing.
	RecordAction(ctx context.Context, a ActionRequest) (ActionOutcome, error)
	// PruneReceipts removes up to limit receipts received before the given
	// time whose hand-off is done; a later repeat of their ClientActionID is
	// judged afresh. It returns how many it removed.
	PruneReceipts(ctx context.Context, before time.Time, limit int) (int, error)
}

// Store is every storage port: one backend implements them together, so that
// an event, its status move, its suspension and a receipt commit as one.
type Store interface {
	TaskRegistry
	EventStore
	SuspensionStore
	ActionReceiptStore
}

// SharedStore is implemented by a Store that other processes may use at
// the same time: replicas of one host on one database. A task that this
// process's executor does not run may then run on another replica, so it is
// not taken for lost.
type SharedStore interface {
	// Shared reports whether other processes may use the store.
	Shared() bool
}

// LeaseStore is implemented by a SharedStore that keeps executor leases, so
// that a task does not stay live forever when the process that ran it died.
// Each process whose executor runs tasks holds a lease under a name of its
// own (the holder), renews it while it lives, and marks the tasks it takes
// as held under it. A live task is lost when its holder's lease expired, or
// when no holder holds it (none took it, or its holder let go of it without
// ending it); another process claims a lost task, which it then holds as
// lost, and ends it. All times are the store's clock, so the processes'
// clocks need not agree. All methods are safe for concurrent use.
type LeaseStore interface {
	// RenewLease extends holder's lease to ttl from now, marks the live
	// tasks of taken that no holder holds as held by holder, and lets go of
	// the live tasks of released that holder holds. It returns the store's
	// time of the renewal.
	RenewLease(ctx context.Context, holder string, ttl time.Duration, taken, released []string) (time.Time, error)
	// ClaimLostTasks claims up to limit lost tasks for holder: live tasks,
	// not held by holder, whose holder's lease ended before expiredBefore,
	// or held by no holder and created before expiredBefore less ttl.
	// expiredBefore is a time of the store's clock, such as a renewal's. It
	// returns the tasks it claimed and, up to limit more, the live tasks
	// holder claimed before (whose end failed, or whose claim's answer was
	// lost), so that a claimer that retries ends every task it claimed.
	// Concurrent claims never claim one task twice.
	ClaimLostTasks(ctx context.Context, holder string, expiredBefore time.Time, ttl time.Duration, limit int) ([]string, error)
}

// Preparer is implemented by a Store that must be made ready before it is
// used, for example by applying its schema migrations. Prepare is
// idempotent and safe to call from several processes at once; it returns
// an error while the store's backend cannot be reached.
type Preparer interface {
	Prepare(ctx context.Context) error
}

// TaskExecutor runs tasks. All methods are safe for concurrent use; they
// return once the request is handed over, not when the work is done. The
// executor reports progress through a Reporter. Which task types exist and
// what their inputs look like is the contract's business, checked before a
// task reaches the executor.
type TaskExecutor interface {
	// Submit hands a created task to the executor (wrapping ErrSubmission
	// when it cannot take it).
	Submit(ctx context.Context, t Task) error
	// Cancel asks the executor to stop the task; the executor then reports
	// Cancelled. ErrTaskNotRunning when it does not run the task.
	Cancel(ctx context.Context, taskID string) error
	// Resume hands a suspension's outcome to the task waiting on it. It is
	// idempotent: a repeat for a suspension already taken returns nil.
	// ErrTaskNotRunning when it does not run the task.
	Resume(ctx context.Context, r Resume) error
}

// Progress is a TASK_PROGRESS report.
type Progress struct {
	// Percent is 0..100.
	Percent float64
	// Stage and Message are optional.
	Stage, Message string
}

// Message is a TASK_MESSAGE report.
type Message struct {
	Text string
	// Level is "info", "warning" or "debug"; empty leaves it out.
	Level string
}

// SuspendRequest opens a suspension with a TASK_SUSPENDED report.
type SuspendRequest struct {
	// SuspendID identifies the suspension in its task; empty picks one.
	SuspendID string
	// Kind is USER_ACTION_REQUIRED, EXTERNAL_CONFIRMATION_PENDING or SYSTEM_PAUSED.
	Kind string
	// ReasonCode says why, for the client's logic.
	ReasonCode string
	// AllowedActions are the action types that may resolve it (at least one).
	AllowedActions []string
	// Interaction and UIHints are optional JSON objects for the client.
	Interaction, UIHints json.RawMessage
	// ExpiresAt, when not zero, is when it expires without an action.
	ExpiresAt time.Time
}

// Failure is a TASK_FAILED report. A *Failure is also an error: a task
// handler returns one to end its task with that code, message and
// retryable flag.
type Failure struct {
	Code, Message string
	Retryable     bool
}

// Error returns the code and the message.
func (f *Failure) Error() string { return f.Code + ": " + f.Message }

// Reporter is how executors report a task's life: each call appends one
// event and moves the task's status with it, so status and history never
// disagree. Calls for one task must be sequential; calls for different tasks
// may run concurrently. Every method returns ErrTaskEnded after a terminal
// event, and an *InvalidInputError for a report that would make an invalid
// event. A report made with a ctx from WithReportKey is idempotent under
// that key: repeated, it stores nothing more and returns nil.
type Reporter interface {
	// Start appends TASK_STARTED and moves the task to RUNNING.
	Start(ctx context.Context, taskID, message string) error
	// Progress appends TASK_PROGRESS.
	Progress(ctx context.Context, taskID string, p Progress) error
	// Message appends TASK_MESSAGE.
	Message(ctx context.Context, taskID string, m Message) error
	// Suspend appends TASK_SUSPENDED and opens the suspension.
	Suspend(ctx context.Context, taskID string, s SuspendRequest) (Suspension, error)
	// Complete appends TASK_COMPLETED with the result (JSON; nil is null).
	// Once cancellation was requested it appends TASK_CANCELLED instead.
	// When the task's type declares a result schema that the result breaks,
	// it appends TASK_FAILED instead (an invalid event is never appended)
	// and returns an error wrapping both the *InvalidInputError and
	// ErrTaskEnded.
	Complete(ctx context.Context, taskID string, result json.RawMessage) error
	// Fail appends TASK_FAILED; once cancellation was requested it appends
	// TASK_CANCELLED instead.
	Fail(ctx context.Context, taskID string, f Failure) error
	// Cancelled appends TASK_CANCELLED with the reason of the cancel request.
	Cancelled(ctx context.Context, taskID string) error
}

// AuthResolver finds the caller of a request. It returns ErrUnauthenticated
// (wrapped) when the request carries no valid credentials; what the error
// says past the sentinel, as in fmt.Errorf("%w: the token expired",
// ErrUnauthenticated), is told to the client as the reason, so it must
// carry no internal detail. Any other error is a failure of the resolver:
// the request is refused as unauthenticated, without a reason. Safe for
// concurrent use.
type AuthResolver interface {
	Resolve(ctx context.Context, r *http.Request) (Principal, error)
}

// OwnershipPolicy decides who may create and see tasks. Safe for concurrent use.
type OwnershipPolicy interface {
	// CanCreate returns nil, or ErrForbidden (wrapped) when p may not create
	// a task of that type.
	CanCreate(ctx context.Context, p Principal, taskType string) error
	// CanAccess reports whether p may see and act on t. A task p may not
	// access is answered as missing.
	CanAccess(ctx context.Context, p Principal, t Task) bool
}

// UploadLimits bound the files of one create request. A zero field means the
// documented default of the service that applies it.
type UploadLimits struct {
	// MaxFileBytes bounds each file.
	MaxFileBytes int64
	// MaxTotalBytes bounds all files together.
	MaxTotalBytes int64
	// MaxFiles bounds how many files.
	MaxFiles int
	// AllowedContentTypes lists the accepted media types; "image/*" matches
	// every image type. Empty allows any.
	AllowedContentTypes []string
}

// UploadPolicy decides the upload limits per caller. Safe for concurrent use.
type UploadPolicy interface {
	Limits(ctx context.Context, p Principal) UploadLimits
}

// ReadinessProbe checks one dependency for /ready. Safe for concurrent use.
type ReadinessProbe interface {
	// Name labels the probe in the readiness details.
	Name() string
	// Check returns nil when the dependency is usable. It must return when
	// ctx ends: /ready waits for every probe.
	Check(ctx context.Context) error
}
