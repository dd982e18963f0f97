package hub

import (
	"encoding/binary"
	"encoding/json"
	"math"

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
	// the payload of a WebSocket text frame and of a poll's events.
	JSON []byte
	// WS is the WebSocket text frame, a server's: its header, then JSON.
	// JSON is its tail, so the two share their bytes.
	WS []byte
	// SSE is the Server-Sent Events frame: "id: <eventId>\ndata: <JSON>\n\n".
	SSE []byte
}

// size is what the event takes in the cache: its encodings.
func (e *Event) size() int { return len(e.WS) + len(e.SSE) }

// Encode encodes e for every transport.
func Encode(e taskbridge.Event) *Event {
	// The envelope is written after room for the longest frame header,
	// and the header right before it.
	frame := appendJSON(make([]byte, MaxFrameHeader, MaxFrameHeader+96+len(e.TaskID)+len(e.Payload)), e)
	envelope := frame[MaxFrameHeader:]
	var h [MaxFrameHeader]byte
	head := TextFrameHeader(&h, len(envelope))
	start := MaxFrameHeader - len(head)
	copy(frame[start:], head)
	id := taskbridge.FormatEventID(e.ID)
	sse := make([]byte, 0, len(envelope)+len(id)+14)
	sse = append(sse, "id: "...)
	sse = append(sse, id...)
	sse = append(sse, "\ndata: "...)
	sse = append(sse, envelope...)
	sse = append(sse, "\n\n"...)
	return &Event{Event: e, JSON: envelope, WS: frame[start:], SSE: sse}
}

// EncodeJSON is the wire envelope of an event as JSON.
func EncodeJSON(e taskbridge.Event) []byte {
	return appendJSON(make([]byte, 0, 96+len(e.TaskID)+len(e.Payload)), e)
}

// appendJSON appends the wire envelope of e to b.
func appendJSON(b []byte, e taskbridge.Event) []byte {
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

// MaxFrameHeader is the longest header of a server's WebSocket frame.
const MaxFrameHeader = 10

// TextFrameHeader writes into h the header of a final, unmasked (a
// server's) WebSocket text frame of size bytes (RFC 6455 section 5.2), and
// returns it.
func TextFrameHeader(h *[MaxFrameHeader]byte, size int) []byte {
	h[0] = 0x81 // FIN, text
	switch {
	case size < 126:
		h[1] = byte(size)
		return h[:2]
	case size <= math.MaxUint16:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(size))
		return h[:4]
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(size))
		return h[:10]
	}
}
