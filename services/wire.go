package services

import (
	"encoding/json"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
)

// This file is the one place where domain types become wire types.

// wireEvent is the event as the generated union type.
func wireEvent(e taskbridge.Event) gen.TaskEvent {
	var te gen.TaskEvent
	_ = te.UnmarshalJSON(hub.EncodeJSON(e)) // the union keeps the raw bytes
	return te
}

func wireTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func eventIDPtr(id uint64) *string {
	if id == 0 {
		return nil
	}
	s := taskbridge.FormatEventID(id)
	return &s
}

// snapshot is the wire snapshot of a task and its open suspension; what
// the task's record keeps of its progress and outcome is decoded here.
func snapshot(t taskbridge.Task, open *taskbridge.Suspension) (gen.TaskSnapshot, error) {
	s := gen.TaskSnapshot{
		TaskId:      t.ID,
		TaskType:    t.Type,
		Status:      gen.TaskStatus(t.Status),
		CreatedAt:   wireTime(t.CreatedAt),
		UpdatedAt:   wireTime(t.UpdatedAt),
		LastEventId: eventIDPtr(t.LastEventID),
	}
	if open != nil {
		if err := decodeInto(open.Payload, &s.OpenSuspension); err != nil {
			return s, err
		}
	}
	if err := decodeInto(t.Progress, &s.Progress); err != nil {
		return s, err
	}
	return s, outcome(t, &s)
}

// outcome puts the payload of the task's terminal event where its status
// says: the result of a COMPLETED task, the failure of a FAILED one, the
// reason of a CANCELLED one.
func outcome(t taskbridge.Task, s *gen.TaskSnapshot) error {
	if t.Outcome == nil {
		return nil
	}
	switch t.Status {
	case taskbridge.StatusCompleted:
		var p struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(t.Outcome, &p); err != nil {
			return err
		}
		if p.Result != nil {
			s.Result = p.Result
		}
	case taskbridge.StatusFailed:
		return decodeInto(t.Outcome, &s.Failure)
	case taskbridge.StatusCancelled:
		var p gen.TaskCancelledPayload
		if err := json.Unmarshal(t.Outcome, &p); err != nil {
			return err
		}
		s.CancelReason = &p.Reason
	}
	return nil
}

// decodeInto decodes a stored payload into a new value for *to; nil leaves
// *to nil.
func decodeInto[T any](payload json.RawMessage, to **T) error {
	if payload == nil {
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(payload, v); err != nil {
		return err
	}
	*to = v
	return nil
}

func createResponse(t taskbridge.Task, deduplicated bool) gen.CreateTaskResponse {
	return gen.CreateTaskResponse{
		TaskId:          t.ID,
		ClientRequestId: t.ClientRequestID,
		TaskType:        t.Type,
		Status:          gen.TaskStatus(t.Status),
		Deduplicated:    deduplicated,
		CreatedAt:       wireTime(t.CreatedAt),
	}
}
