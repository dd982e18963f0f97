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

// snapshot is the wire snapshot of a task and its open suspension.
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
		var p gen.TaskSuspendedPayload
		if err := json.Unmarshal(open.Payload, &p); err != nil {
			return s, err
		}
		s.OpenSuspension = &p
	}
	return s, nil
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
