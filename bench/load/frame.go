package load

import (
	"bytes"
	"time"
)

// maxFrame bounds a frame the load tool accepts: an SSE event's data, or
// a WebSocket message.
const maxFrame = 64 << 20

// envelope is what the load tool reads of every frame: the envelope's
// string properties, which TaskBridge servers write before the payload.
// The slices point into the frame.
type envelope struct {
	kind      []byte // type
	eventID   []byte
	createdAt []byte
}

// parseEnvelope reads the frame's top-level properties in one pass,
// stepping over objects and arrays (the payload) whole, so that the
// payload's own "type" is never taken for the envelope's, wherever the
// payload comes (an SSE heartbeat has it before its type). It reports false
// for a frame that is not a JSON object; properties it did not find stay
// nil. Values with escapes are not needed and come back raw.
func parseEnvelope(frame []byte) (envelope, bool) {
	if e, ok := compactEnvelope(frame); ok {
		return e, true
	}
	var e envelope
	rest := skipSpace(frame)
	if len(rest) == 0 || rest[0] != '{' {
		return e, false
	}
	rest = rest[1:]
	for {
		rest = skipSpace(rest)
		if len(rest) == 0 || rest[0] != '"' {
			return e, true
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return e, true
		}
		key := rest[1 : 1+end]
		rest = skipSpace(rest[2+end:])
		if len(rest) == 0 || rest[0] != ':' {
			return e, true
		}
		rest = skipSpace(rest[1:])
		if len(rest) == 0 {
			return e, true
		}
		if rest[0] == '{' || rest[0] == '[' { // the payload, say
			end = compositeLen(rest)
			if end < 0 {
				return e, true
			}
			rest = skipSpace(rest[end:])
			if len(rest) == 0 || rest[0] != ',' {
				return e, true
			}
			rest = rest[1:]
			continue
		}
		if rest[0] != '"' { // true, false, null or a number: no comma inside
			end = bytes.IndexAny(rest, ",}")
			if end < 0 || rest[end] == '}' {
				return e, true
			}
			rest = rest[end+1:]
			continue
		}
		end = bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return e, true
		}
		value := rest[1 : 1+end]
		rest = skipSpace(rest[2+end:])
		switch string(key) {
		case "type":
			e.kind = value
		case "eventId":
			e.eventID = value
		case "createdAt":
			e.createdAt = value
		}
		if len(rest) == 0 || rest[0] != ',' {
			return e, true
		}
		rest = rest[1:]
	}
}

// compositeLen returns the length of the object or array b starts with, or
// -1 when b ends before it does.
func compositeLen(b []byte) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++ // the escaped character, a quote say
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// compactKeys are the envelope's keys in the order and spacing TaskBridge
// hosts write them, each with the quotes around it.
var compactKeys = [...]string{`{"type":"`, `","taskId":"`, `","eventId":"`, `","createdAt":"`}

// compactEnvelope reads an event that starts exactly as TaskBridge hosts
// write one, {"type":"…","taskId":"…","eventId":"…","createdAt":"…", at a
// third of the general parser's cost; ok is false for any other frame.
func compactEnvelope(frame []byte) (e envelope, ok bool) {
	var values [len(compactKeys)][]byte
	rest := frame
	for i, key := range compactKeys {
		if len(rest) < len(key) || string(rest[:len(key)]) != key {
			return envelope{}, false
		}
		rest = rest[len(key):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return envelope{}, false
		}
		values[i], rest = rest[:end], rest[end:] // the next key starts with this quote
	}
	return envelope{kind: values[0], eventID: values[2], createdAt: values[3]}, true
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// parseEventID parses a decimal eventId without allocating, as
// taskbridge.ParseEventID, whose string would escape into its error, does
// not; 0 means it is malformed (eventIds start at 1).
func parseEventID(b []byte) uint64 {
	if len(b) == 0 || len(b) > 19 || b[0] == '0' {
		return 0
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = 10*n + uint64(c-'0')
	}
	return n
}

// parseMicros parses an RFC 3339 timestamp to microseconds since the Unix
// epoch. It reads the UTC form servers write ("2006-01-02T15:04:05.999999Z")
// by hand, which is many times faster than time.Parse and matters at
// millions of events a second, and hands any other form to time.Parse.
func parseMicros(b []byte) (int64, bool) {
	if us, ok := parseUTCMicros(b); ok {
		return us, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixMicro(), true
}

// parseUTCMicros parses "YYYY-MM-DDTHH:MM:SS[.fraction]Z" only, from
// year 1 on. It does not check the day against the month's length.
func parseUTCMicros(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	var micros int64
	frac := b[19 : len(b)-1]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return 0, false
		}
		scale := int64(100000)
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return 0, false
			}
			micros += int64(c-'0') * scale
			scale /= 10
		}
	}
	secs := daysSinceEpoch(year, month, day)*86400 + hour*3600 + minute*60 + sec
	return secs*1_000_000 + micros, true
}

// digits parses b as a non-negative decimal number.
func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int64(c-'0')
	}
	return n, true
}

// daysSinceEpoch counts the days from 1970-01-01 to the given date of the
// proleptic Gregorian calendar (the civil-from-days algorithm, inverted).
func daysSinceEpoch(year, month, day int64) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	yearOfEra := year - era*400
	dayOfYear := (153*((month+9)%12)+2)/5 + day - 1
	dayOfEra := yearOfEra*365 + yearOfEra/4 - yearOfEra/100 + dayOfYear
	return era*146097 + dayOfEra - 719468
}
