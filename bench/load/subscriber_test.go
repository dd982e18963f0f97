package load

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestField(t *testing.T) {
	frame := []byte(`{"type":"TASK_SUSPENDED","taskId":"t1","eventId":"12","createdAt":"2026-11-23T12:00:00.000001Z","payload":{"suspendId":"s-9","type":"x"}}`)
	require.Equal(t, "TASK_SUSPENDED", field(frame, "type"), "the envelope's type comes before the payload's")
	require.Equal(t, "12", field(frame, "eventId"))
	require.Equal(t, "s-9", field(frame, "suspendId"))
	require.Equal(t, "", field(frame, "missing"))
	require.Equal(t, "", field([]byte(`{"eventId":12}`), "eventId"), "not a string")
	require.Equal(t, "", field([]byte(`{"eventId":"12`), "eventId"), "unterminated")
	require.Equal(t, "a", field([]byte(`{"type": "a"}`), "type"), "a space after the colon")
}

func event(id int, kind string, created time.Time) []byte {
	return []byte(`{"type":"` + kind + `","taskId":"t","eventId":"` + cursorString(uint64(id)) +
		`","createdAt":"` + created.UTC().Format(time.RFC3339Nano) + `","payload":{"suspendId":"s1"}}`)
}

// TestDeliverCounts feeds a subscriber a stream with a duplicate, a gap and
// a late event, and checks every count and the latency sample.
func TestDeliverCounts(t *testing.T) {
	start := make(chan struct{})
	tk := &task{id: "t"}
	s := newSubscriber(tk, nil, start, 0)
	now := time.Now()
	deliver := func(id int, kind string, at time.Time) {
		t.Helper()
		require.NoError(t, s.deliver(event(id, kind, now), at))
	}
	deliver(1, "TASK_STARTED", now)
	deliver(2, typeSuspended, now)
	require.True(t, isClosed(s.ready), "ready once the suspension arrived")
	require.Equal(t, "s1", tk.suspension())
	require.NoError(t, s.deliver([]byte(`{"type":"HEARTBEAT","taskId":"t","eventId":"hb-x"}`), now), "a heartbeat is skipped")
	require.NoError(t, s.deliver([]byte(`{"type":"SUBSCRIPTION_CONFIRMED","taskId":"t"}`), now), "so is a confirmation")
	close(start)
	deliver(3, "TASK_ACTION_ACCEPTED", now)
	deliver(4, typeMessage, now.Add(1500*time.Microsecond))
	deliver(4, typeMessage, now) // duplicate
	deliver(6, typeMessage, now) // 5 is missing for now
	deliver(5, typeMessage, now) // late: reordered
	deliver(8, "TASK_COMPLETED", now)

	require.True(t, s.done)
	require.Equal(t, uint64(8), tk.terminalID())
	require.Equal(t, 1, s.duplicates)
	require.Equal(t, 1, s.reordered)
	require.Equal(t, 5, s.received, "events 3, 4, 6, 5 and 8 arrived after the start")
	require.Equal(t, 1, s.missing(8), "only 7 never arrived")
	require.Equal(t, []int32{1500, 0, 0}, s.latencies, "one sample per TASK_MESSAGE after the start")

	require.Error(t, s.deliver([]byte(`{"eventId":"1"}`), now), "no type")
	require.Error(t, s.deliver([]byte(`{"type":"TASK_MESSAGE","eventId":"x"}`), now), "a malformed eventId")
	require.Error(t, s.deliver([]byte(`{"type":"TASK_MESSAGE","eventId":"0"}`), now), "eventIds start at 1")
	require.Error(t, s.deliver(event(9, typeMessage, now)[:60], now), "a malformed createdAt")
}

func TestQuantile(t *testing.T) {
	require.Zero(t, quantile(nil, 0.5))
	sorted := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.Equal(t, 5*time.Microsecond, quantile(sorted, 0.5))
	require.Equal(t, 9*time.Microsecond, quantile(sorted, 0.9))
	require.Equal(t, 10*time.Microsecond, quantile(sorted, 0.99))
	require.Equal(t, 10*time.Microsecond, quantile(sorted, 1))
}

func TestReadProcOfThisProcess(t *testing.T) {
	p, err := readProc(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, p.rss)
	zero, err := readProc(0)
	require.NoError(t, err)
	require.Zero(t, zero)
	_, err = readProc(1 << 30)
	require.Error(t, err, "no such process")
}
