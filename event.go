package taskbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// EventType names an event of a task's history.
type EventType string

// The event types of TaskBridge protocol v1.
const (
	EventStarted        EventType = "TASK_STARTED"
	EventProgress       EventType = "TASK_PROGRESS"
	EventMessage        EventType = "TASK_MESSAGE"
	EventSuspended      EventType = "TASK_SUSPENDED"
	EventActionAccepted EventType = "TASK_ACTION_ACCEPTED"
	EventCompleted      EventType = "TASK_COMPLETED"
	EventFailed         EventType = "TASK_FAILED"
	EventCancelled      EventType = "TASK_CANCELLED"
)

// IsTerminal reports whether t ends the task.
func (t EventType) IsTerminal() bool {
	return t == EventCompleted || t == EventFailed || t == EventCancelled
}

// EndStatus is the status a terminal event ends its task in, and "" for an
// event type that is not terminal.
func (t EventType) EndStatus() TaskStatus {
	switch t {
	case EventCompleted:
		return StatusCompleted
	case EventFailed:
		return StatusFailed
	case EventCancelled:
		return StatusCancelled
	}
	return ""
}

// Event is one entry of a task's history.
type Event struct {
	// TaskID is the task the event belongs to.
	TaskID string
	// ID is assigned by the store on append: 1 for the first event of a
	// task, then each next integer. On the wire it is its decimal string.
	ID uint64
	// Type is the event type.
	Type EventType
	// CreatedAt is stamped by the store on append, in UTC.
	CreatedAt time.Time
	// Payload is the event's payload as JSON, shaped for Type.
	Payload json.RawMessage
}

// Append is one event to add to a task, with the status move it makes. A
// store applies all of it or none of it.
type Append struct {
	// Type and Payload make the event.
	Type    EventType
	Payload json.RawMessage
	// Status is the status the task moves to with this event; empty keeps
	// the current one. It must be a move TaskStatus.CanMoveTo allows.
	Status TaskStatus
	// Suspension, with a TASK_SUSPENDED event, is recorded as open.
	Suspension *Suspension
	// Key, when not empty, makes the append idempotent: when the task
	// already has an event appended with this Key, Append changes nothing
	// and returns that event, also after the task ended. A reporter whose
	// append failed with an unknown outcome (the connection was lost during
	// the commit) retries with the same Key, so the event is stored once.
	// Keys are unique per task; an empty Key appends every time.
	Key string
}

// Kept returns what the append leaves on its task's record beside its
// status move, so that a snapshot shows it without replaying the history:
// the payload of a TASK_PROGRESS event becomes the task's Progress, and that
// of a terminal event its Outcome. A nil return leaves that field as it is.
// Every store applies it in the same step as the append it comes with.
func (a Append) Kept() (progress, outcome json.RawMessage) {
	switch {
	case a.Type == EventProgress:
		return a.Payload, nil
	case a.Type.IsTerminal():
		return nil, a.Payload
	}
	return nil, nil
}

// ErrMalformedCursor is returned by ParseEventID for a string that cannot be
// an event id.
var ErrMalformedCursor = errors.New("malformed event id")

// ParseEventID parses a cursor or eventId from the wire: the decimal form of a
// positive integer up to math.MaxInt64 (the range every store can keep),
// without sign, spaces or leading zeros. "0" is accepted as the cursor before
// the first event.
func ParseEventID(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: %q", ErrMalformedCursor, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q", ErrMalformedCursor, s)
		}
	}
	id, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrMalformedCursor, s)
	}
	return id, nil
}

// FormatEventID is the wire form of an event id.
func FormatEventID(id uint64) string { return strconv.FormatUint(id, 10) }
