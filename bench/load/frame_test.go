package load

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseEnvelope(t *testing.T) {
	for _, c := range []struct {
		frame, kind, id, created string
	}{
		{`{"type":"TASK_MESSAGE","taskId":"t1","eventId":"12","createdAt":"2026-11-23T12:00:00.000001Z","payload":{"type":"x","eventId":"99"}}`,
			"TASK_MESSAGE", "12", "2026-11-23T12:00:00.000001Z"},
		{`{"live":true,"replayStartedAfterEventId":null,"taskId":"t1","type":"SUBSCRIPTION_CONFIRMED"}`, "SUBSCRIPTION_CONFIRMED", "", ""},
		{` { "type" : "HEARTBEAT" , "n": 1.5e3, "eventId":"3"}`, "HEARTBEAT", "3", ""},
		{`{"payload":{"type":"inner"},"type":"late"}`, "late", "", ""},
		{`{"createdAt":"c","eventId":"hb-X","payload":{"live":true},"taskId":"t1","type":"HEARTBEAT"}`, "HEARTBEAT", "hb-X", "c"}, // an SSE heartbeat
		{`{"payload":{"s":"}\"]{","a":[1,{"type":"x"}],"e":{}},"type":"late","eventId":"5"}`, "late", "5", ""},
		{`{"payload":{"type":"cut`, "", "", ""},
		{`{"type":"unterminated`, "", "", ""},
		{`{"type":"TASK_MESSAGE","taskId":"t1","eventId":"7","createdAt":"c"}`, "TASK_MESSAGE", "7", "c"},
		{`{"type":"TASK_MESSAGE","taskId":"t1","eventId":"7"}`, "TASK_MESSAGE", "7", ""},
		{`{"type":"HEARTBEAT","taskId":"t1","live":true}`, "HEARTBEAT", "", ""},
		{`{"type":"TASK_MESSAGE","taskId":"t1","eventId":"7`, "TASK_MESSAGE", "", ""},
	} {
		e, ok := parseEnvelope([]byte(c.frame))
		require.True(t, ok, c.frame)
		require.Equal(t, c.kind, string(e.kind), c.frame)
		require.Equal(t, c.id, string(e.eventID), c.frame)
		require.Equal(t, c.created, string(e.createdAt), c.frame)
	}
	_, ok := parseEnvelope([]byte(`["type","x"]`))
	require.False(t, ok, "not an object")
	e, ok := compactEnvelope(hostFrame)
	require.True(t, ok, "a host's frame takes the short way")
	require.Equal(t, "1234", string(e.eventID))
}

func TestParseEventID(t *testing.T) {
	require.Equal(t, uint64(1), parseEventID([]byte("1")))
	require.Equal(t, uint64(18446744073709551), parseEventID([]byte("18446744073709551")))
	for _, bad := range []string{"", "0", "01", "x", "1x", "-1", "12345678901234567890"} {
		require.Zero(t, parseEventID([]byte(bad)), bad)
	}
}

// FuzzParseMicros: wherever time.Parse reads an RFC 3339 timestamp, the
// hand-written reader agrees with it to the microsecond.
func FuzzParseMicros(f *testing.F) {
	for _, s := range []string{"2026-11-23T12:00:00.000001Z", "2026-11-23T12:00:00Z", "1970-01-01T00:00:00Z",
		"1969-12-31T23:59:59.999999999Z", "2024-02-29T23:59:59.5Z", "0001-01-01T00:00:00Z", "2026-11-23T12:00:00+02:00", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseMicros([]byte(s))
		if err != nil {
			return // the hand-written reader may be laxer (it does not check Feb 30)
		}
		if !ok || got != want.UnixMicro() {
			t.Fatalf("%q: got %d, %v; time.Parse: %d", s, got, ok, want.UnixMicro())
		}
	})
}

// hostFrame is a tick as the example host writes it.
var hostFrame = []byte(`{"type":"TASK_MESSAGE","taskId":"4UTYF4XY6S4ESYEABLFOF6ECNN","eventId":"1234","createdAt":"2026-12-01T22:19:12.999006Z","payload":{"message":"tick 1233/10000"}}`)

func BenchmarkParseEnvelope(b *testing.B) {
	for b.Loop() {
		e, _ := parseEnvelope(hostFrame)
		if len(e.createdAt) == 0 {
			b.Fatal("no createdAt")
		}
	}
}

func BenchmarkParseMicros(b *testing.B) {
	ts := []byte("2026-12-01T22:19:12.999006Z")
	for b.Loop() {
		if _, ok := parseMicros(ts); !ok {
			b.Fatal("not parsed")
		}
	}
}
