package taskbridge

import (
	"encoding/json"
	"time"
)

// TaskStatus is where a task is in its life. A task starts ACCEPTED, becomes
// RUNNING with its TASK_STARTED event and ends in exactly one of the terminal
// statuses. A suspended task is RUNNING with an open Suspension.
type TaskStatus string

// The statuses of a task, as they appear on the wire.
const (
	StatusAccepted  TaskStatus = "ACCEPTED"
	StatusRunning   TaskStatus = "RUNNING"
	StatusCompleted TaskStatus = "COMPLETED"
	StatusFailed    TaskStatus = "FAILED"
	StatusCancelled TaskStatus = "CANCELLED"
)

// IsTerminal reports whether s is an end status, after which nothing more is
// appended to the task.
func (s TaskStatus) IsTerminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// CanMoveTo reports whether a task in status s may move to next: forward only,
// ACCEPTED -> RUNNING -> a terminal status, and ACCEPTED straight to a
// terminal status (a task cancelled or failed before it started). Staying in
// the same non-terminal status is allowed.
func (s TaskStatus) CanMoveTo(next TaskStatus) bool {
	switch {
	case s.IsTerminal():
		return false
	case s == next:
		return true
	case s == StatusAccepted:
		return next == StatusRunning || next.IsTerminal()
	case s == StatusRunning:
		return next.IsTerminal()
	}
	return false
}

// Principal is the authenticated caller of a request, as an AuthResolver
// found it.
type Principal struct {
	// Subject identifies the caller; it owns the tasks it creates.
	Subject string
	// Claims carries whatever else the resolver knows (roles, tenant), for
	// the host's own policies. Nothing in taskbridge reads it.
	Claims map[string]string
}

// Attachment is a file uploaded with a task. Its bytes are kept with the task
// so that any replica's executor can read them; UploadPolicy bounds their size.
type Attachment struct {
	// Field is the multipart field the file came in ("attachment" or "attachments").
	Field string
	// Name is the file name the client gave.
	Name string
	// ContentType is the media type the client declared.
	ContentType string
	// Data is the whole content.
	Data []byte
}

// NewTask is what a store needs to create a task.
type NewTask struct {
	// ID is the new task's id, chosen by the caller (unique, URL-safe).
	ID string
	// Owner is the Subject of the Principal that creates it.
	Owner string
	// ClientRequestID is the client's idempotency key, unique per owner.
	ClientRequestID string
	// Type names the kind of work; an executor handles it.
	Type string
	// Input is the task's input as JSON (null when none was given).
	Input json.RawMessage
	// Metadata is client data kept with the task; it does not count for
	// idempotency.
	Metadata json.RawMessage
	// Attachments are the uploaded files, in upload order.
	Attachments []Attachment
	// Fingerprint summarises Type, Input and Attachments: two creates with
	// the same owner and ClientRequestID are the same request exactly when
	// their fingerprints are equal.
	Fingerprint string
	// CreatedAt is the creation time.
	CreatedAt time.Time
	// TraceParent is the W3C traceparent of the span that created the task
	// when that request was traced ("" otherwise): an executor continues
	// the trace from it, so that the task's run and reports belong to the
	// create's trace. It is kept with the task and never sent to clients.
	TraceParent string
}

// CheckRepeat judges a create that found t under its Owner and
// ClientRequestID: nil when n is the same request (their fingerprints are
// equal), an *IdempotencyConflictError naming t when it is another one.
func (t Task) CheckRepeat(n NewTask) error {
	if t.Fingerprint == n.Fingerprint {
		return nil
	}
	return &IdempotencyConflictError{TaskID: t.ID, ClientRequestID: n.ClientRequestID}
}

// Task is a task as a store keeps it.
type Task struct {
	NewTask
	// Status is the current status; it moves only with an appended event.
	Status TaskStatus
	// UpdatedAt is when the status or history last changed.
	UpdatedAt time.Time
	// EndedAt is when the terminal event was appended; zero while the task lives.
	EndedAt time.Time
	// LastEventID is the id of the newest event, 0 before the first.
	LastEventID uint64
	// CancelRequested is set by the first cancel request; from then on the
	// only terminal event the task accepts is TASK_CANCELLED.
	CancelRequested bool
	// CancelReason is the reason given with the first cancel request.
	CancelReason string
	// Progress is the payload of the task's newest TASK_PROGRESS event, nil
	// before its first; Outcome is the payload of its terminal event
	// (TASK_COMPLETED, TASK_FAILED or TASK_CANCELLED), nil while it lives.
	// A store keeps both with each append (see Append.Kept), so that a
	// snapshot shows them without replaying the history.
	Progress, Outcome json.RawMessage
}
