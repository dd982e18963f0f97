package taskbridge

import (
	"errors"
	"fmt"
)

// Sentinel errors that stores, executors and policies return (wrapped with
// %w) and that the services map to the error envelope in one place.
var (
	// ErrTaskNotFound: no such task, or not the caller's (the two are
	// indistinguishable to clients). 404 TASK_NOT_FOUND.
	ErrTaskNotFound = errors.New("task not found")
	// ErrTaskEnded: the task has its terminal event; nothing more is appended.
	ErrTaskEnded = errors.New("task has ended")
	// ErrCancelRequested: the task is being cancelled, so the only terminal
	// event it accepts is TASK_CANCELLED.
	ErrCancelRequested = errors.New("task cancellation was requested")
	// ErrInvalidTransition: the status move is not allowed (see TaskStatus.CanMoveTo).
	ErrInvalidTransition = errors.New("invalid task status transition")
	// ErrIdempotencyConflict: the key was used before for a different request.
	// 409 IDEMPOTENCY_CONFLICT.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	// ErrSuspensionNotFound: the task has no suspension with that id. An
	// action for it is 409 SUSPENSION_NOT_OPEN.
	ErrSuspensionNotFound = errors.New("suspension not found")
	// ErrSuspensionExpired: the suspension a task waits on expired before an
	// action answered it; an executor's suspend returns it (wrapped).
	ErrSuspensionExpired = errors.New("suspension expired")
	// ErrSuspensionExists: a suspension with that id was opened before.
	ErrSuspensionExists = errors.New("suspension already exists")
	// ErrActionNotAllowed: the action type is not one the suspension allows.
	// 409 ACTION_NOT_ALLOWED.
	ErrActionNotAllowed = errors.New("action type not allowed")
	// ErrUnauthenticated: the request carries no valid credentials. 401.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbidden: the caller may not create this task. 403 TASK_OWNERSHIP_ERROR.
	ErrForbidden = errors.New("not allowed for this caller")
	// ErrUnknownTaskType: no executor handles the task type. 400 INVALID_REQUEST.
	ErrUnknownTaskType = errors.New("unknown task type")
	// ErrUploadTooLarge: an upload is over a size limit. 413 UPLOAD_VALIDATION_ERROR.
	ErrUploadTooLarge = errors.New("upload too large")
	// ErrUploadRejected: an upload breaks the upload policy (count, content
	// type). 400 UPLOAD_VALIDATION_ERROR.
	ErrUploadRejected = errors.New("upload rejected")
	// ErrTaskNotRunning: the executor does not run the task (any more), so it
	// cannot cancel or resume it.
	ErrTaskNotRunning = errors.New("task is not running in this executor")
	// ErrSubmission: the executor could not take the task. 503 TASK_SUBMISSION_ERROR.
	ErrSubmission = errors.New("task submission failed")
	// ErrUnavailable: a dependency (the store's database, an engine) cannot
	// be reached, so the operation did not happen; it may succeed when
	// retried later. Stores and executors wrap it. 503 SERVICE_UNAVAILABLE.
	ErrUnavailable = errors.New("dependency unavailable")
	// ErrTooManyRequests: the caller is over a per-subject limit (open
	// streams, creates per second). 429 TOO_MANY_REQUESTS; on a WebSocket,
	// a 1008 close.
	ErrTooManyRequests = errors.New("too many requests")
	// ErrClosed: the component was closed.
	ErrClosed = errors.New("closed")
)

// InvalidInputError reports a task input, or an event an executor reported,
// that does not have the shape its type needs. Create answers it with 422
// REQUEST_VALIDATION_ERROR naming Field.
type InvalidInputError struct {
	// Field is a JSON pointer to the offending value, such as "/input/steps/2".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *InvalidInputError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// IdempotencyConflictError is ErrIdempotencyConflict with what the key
// belongs to, so that a client can go there: the task an earlier create
// made with ClientRequestID, or the task whose action took ClientActionID.
type IdempotencyConflictError struct {
	// TaskID is the task the key belongs to.
	TaskID string
	// ClientRequestID is the key of a create, ClientActionID that of an
	// action; only one of them is set.
	ClientRequestID, ClientActionID string
}

func (e *IdempotencyConflictError) Error() string {
	if e.ClientActionID != "" {
		return fmt.Sprintf("action %q of task %q: %v", e.ClientActionID, e.TaskID, ErrIdempotencyConflict)
	}
	return fmt.Sprintf("task %q for client request %q: %v", e.TaskID, e.ClientRequestID, ErrIdempotencyConflict)
}

// Unwrap returns ErrIdempotencyConflict.
func (e *IdempotencyConflictError) Unwrap() error { return ErrIdempotencyConflict }

// ActionNotAllowedError is ErrActionNotAllowed with the action types the
// suspension does allow.
type ActionNotAllowedError struct {
	TaskID, SuspendID string
	// ActionType is the refused type; AllowedActions those the suspension
	// allows.
	ActionType     string
	AllowedActions []string
}

func (e *ActionNotAllowedError) Error() string {
	return fmt.Sprintf("action type %q on suspension %q of task %q (it allows %q): %v",
		e.ActionType, e.SuspendID, e.TaskID, e.AllowedActions, ErrActionNotAllowed)
}

// Unwrap returns ErrActionNotAllowed.
func (e *ActionNotAllowedError) Unwrap() error { return ErrActionNotAllowed }

// UnknownTaskTypeError is ErrUnknownTaskType with the task types there are.
type UnknownTaskTypeError struct {
	TaskType string
	// Known are the task types there are, in order.
	Known []string
}

func (e *UnknownTaskTypeError) Error() string {
	return fmt.Sprintf("%v %q (known: %q)", ErrUnknownTaskType, e.TaskType, e.Known)
}

// Unwrap returns ErrUnknownTaskType.
func (e *UnknownTaskTypeError) Unwrap() error { return ErrUnknownTaskType }

// SuspensionNotOpenError is ErrSuspensionNotFound for an action: the task
// has no suspension SuspendID, and OpenSuspendID is the one it waits on
// now ("" when none), so that a client can answer that one instead.
type SuspensionNotOpenError struct {
	TaskID, SuspendID, OpenSuspendID string
}

func (e *SuspensionNotOpenError) Error() string {
	return fmt.Sprintf("suspension %q of task %q (open: %q): %v", e.SuspendID, e.TaskID, e.OpenSuspendID, ErrSuspensionNotFound)
}

// Unwrap returns ErrSuspensionNotFound.
func (e *SuspensionNotOpenError) Unwrap() error { return ErrSuspensionNotFound }
