package taskbridge

import (
	"encoding/json"
	"slices"
	"time"
)

// SuspensionState is where a suspension is in its life.
type SuspensionState string

// The states of a suspension. Only an open suspension accepts an action.
const (
	// SuspensionOpen waits for an action.
	SuspensionOpen SuspensionState = "open"
	// SuspensionResolved took an accepted action.
	SuspensionResolved SuspensionState = "resolved"
	// SuspensionExpired passed its ExpiresAt without an action.
	SuspensionExpired SuspensionState = "expired"
	// SuspensionClosed ended with its task (cancelled, failed or completed
	// while it was open); it has nothing to hand off.
	SuspensionClosed SuspensionState = "closed"
)

// Suspension is a point where a task waits for a human or external decision.
type Suspension struct {
	// TaskID and SuspendID identify it; SuspendID is unique within the task.
	TaskID    string
	SuspendID string
	// AllowedActions are the action types that may resolve it.
	AllowedActions []string
	// ExpiresAt is when it expires; zero means never.
	ExpiresAt time.Time
	// Payload is the TASK_SUSPENDED payload that opened it, as JSON; task
	// snapshots show it as the open suspension.
	Payload json.RawMessage
	// CreatedAt is when it opened.
	CreatedAt time.Time
	// State is its current state.
	State SuspensionState
	// ResolvedAt is when it was resolved or expired.
	ResolvedAt time.Time
	// Action is the accepted action that resolved it.
	Action *ActionReceipt
	// HandedOff reports whether the executor took the resume (resolved) or
	// the expiry (expired). Until then a reconciler keeps offering it.
	HandedOff bool
}

// Allows reports whether actionType may resolve s.
func (s Suspension) Allows(actionType string) bool {
	return slices.Contains(s.AllowedActions, actionType)
}

// Expired reports whether s is past its ExpiresAt at now.
func (s Suspension) Expired(now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)
}

// Judge decides what an action that no receipt of the task holds does to s
// at a.Now: an *ActionNotAllowedError for a type s does not allow, whatever
// its state; REJECTED_ALREADY_RESOLVED when s was resolved or closed;
// REJECTED_EXPIRED when it expired, or is open but overdue at a.Now (which
// the store then records as expired); ACCEPTED when it is open.
func (s Suspension) Judge(a ActionRequest) (ActionStatus, error) {
	if !s.Allows(a.ActionType) {
		return "", &ActionNotAllowedError{TaskID: s.TaskID, SuspendID: s.SuspendID, ActionType: a.ActionType,
			AllowedActions: slices.Clone(s.AllowedActions)}
	}
	switch {
	case s.State == SuspensionResolved || s.State == SuspensionClosed:
		return ActionRejectedAlreadyResolved, nil
	case s.State == SuspensionExpired || s.Expired(a.Now):
		return ActionRejectedExpired, nil
	}
	return ActionAccepted, nil
}

// ActionRequest is a client's answer to a suspension, as a store records it.
type ActionRequest struct {
	TaskID         string
	ClientActionID string
	SuspendID      string
	ActionType     string
	// Payload and Metadata are the client's JSON objects (null when absent).
	Payload  json.RawMessage
	Metadata json.RawMessage
	// Fingerprint summarises SuspendID, ActionType and Payload: a repeat with
	// the same ClientActionID is the same action exactly when it is equal.
	Fingerprint string
	// Now is the time the action is judged at (expiry) and recorded with.
	Now time.Time
	// AcceptedEvent is the TASK_ACTION_ACCEPTED payload to append, as JSON,
	// when the action is accepted.
	AcceptedEvent json.RawMessage
}

// ActionStatus is the outcome of an action.
type ActionStatus string

// The outcomes of an action, as they appear on the wire.
const (
	ActionAccepted                ActionStatus = "ACCEPTED"
	ActionDeduplicated            ActionStatus = "DEDUPLICATED"
	ActionRejectedAlreadyResolved ActionStatus = "REJECTED_ALREADY_RESOLVED"
	ActionRejectedExpired         ActionStatus = "REJECTED_EXPIRED"
)

// ActionReceipt records an accepted action, once per (task, ClientActionID).
type ActionReceipt struct {
	ActionRequest
	// ReceivedAt is when it was accepted.
	ReceivedAt time.Time
	// EventID is the TASK_ACTION_ACCEPTED event it appended.
	EventID uint64
}

// CheckRepeat judges an action whose ClientActionID rc, a receipt of the
// same task, holds: nil when it is the same action (their fingerprints are
// equal: DEDUPLICATED), an *IdempotencyConflictError otherwise.
func (rc ActionReceipt) CheckRepeat(a ActionRequest) error {
	if rc.Fingerprint == a.Fingerprint {
		return nil
	}
	return &IdempotencyConflictError{TaskID: rc.TaskID, ClientActionID: rc.ClientActionID}
}

// ActionOutcome is what recording an action did.
type ActionOutcome struct {
	Status ActionStatus
	// Receipt is the accepted action (ACCEPTED) or the earlier one a repeat
	// matched (DEDUPLICATED); nil for a rejection.
	Receipt *ActionReceipt
	// Event is the appended TASK_ACTION_ACCEPTED event (ACCEPTED only).
	Event *Event
}

// Resume tells an executor that a suspension of its task was resolved by an
// action or expired.
type Resume struct {
	TaskID    string
	SuspendID string
	// Action is the accepted action; nil when the suspension expired.
	Action *ActionReceipt
}

// Expired reports whether the suspension ended by expiry instead of an action.
func (r Resume) Expired() bool { return r.Action == nil }
