package hub

import (
	"encoding/json"

	"github.com/taskbridge-go/taskbridge"
)

// TimeFormat is how timestamps go on the wire: RFC 3339 in UTC, always with
// a fraction of a second.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Event is a stored event encoded once for every transport; readers share
// it and must not modify it.
type Event struct {
	taskbridge.Event
	// JSON is the wire envelope {"type","taskId","eventId","createdAt","payload"},
	// also the WebSocket text frame.
	JSON []byte
	// SSE is the Server-Sent Events frame: "id: <eventId>\ndata: <JSON>\n\n".
	SSE []byte
}

// size is what the event takes in the cache: its encodings.
func (e *Event) size() int { return len(e.JSON) + len(e.SSE) }

// Encode encodes e for every transport.
func Encode(e taskbridge.Event) *Event {
	envelope := EncodeJSON(e)
	id := taskbridge.FormatEventID(e.ID)
	sse := make([]byte, 0, len(envelope)+len(id)+14)
	sse = append(sse, "id: "...)
	sse = append(sse, id...)
	sse = append(sse, "\ndata: "...)
	sse = append(sse, envelope...)
	sse = append(sse, "\n\n"...)
	return &Event{Event: e, JSON: envelope, SSE: sse}
}

// EncodeJSON is the wire envelope of an event as JSON.
func EncodeJSON(e taskbridge.Event) []byte {
	b := make([]byte, 0, 96+len(e.TaskID)+len(e.Payload))
	b = append(b, `{"type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","taskId":`...)
	q, _ := json.Marshal(e.TaskID) // a string always marshals
	b = append(b, q...)
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
