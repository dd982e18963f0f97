package services

import (
	"encoding/json"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// This file is the one place where domain types become wire types.

// TimeFormat is how timestamps go on the wire: RFC 3339 in UTC, always with
// a fraction of a second.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// EncodeEvent is the wire envelope of an event as JSON:
// {"type","taskId","eventId","createdAt","payload"}.
func EncodeEvent(e taskbridge.Event) []byte {
	b := make([]byte, 0, 96+len(e.TaskID)+len(e.Payload))
	b = append(b, `{"type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","taskId":`...)
	b = appendJSONString(b, e.TaskID)
	b = append(b, `,"eventId":"`...)
	b = append(b, taskbridge.FormatEventID(e.ID)...)
	b = append(b, `","createdAt":"`...)
	b = e.CreatedAt.UTC().AppendFormat(b, TimeFormat)
	b = append(b, `","payload":`...)
	if len(e.Payload) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, e.Payload...)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// wireEvent is the event as the generated union type.
func wireEvent(e taskbridge.Event) gen.TaskEvent {
	var te gen.TaskEvent
	_ = te.UnmarshalJSON(EncodeEvent(e)) // the union keeps the raw bytes
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
