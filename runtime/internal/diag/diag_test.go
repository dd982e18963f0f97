package diag_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/diag"
)

// lagMetrics records the delivery lags it hears.
type lagMetrics struct {
	taskbridge.NopMetrics
	lags []time.Duration
}

func (m *lagMetrics) EventsDelivered(_ string, lags []time.Duration) {
	m.lags = append(m.lags, lags...)
}

// recorder records the stream events it hears.
type recorder struct{ events []taskbridge.StreamEvent }

func (r *recorder) StreamEvent(e taskbridge.StreamEvent) { r.events = append(r.events, e) }

// The live events' delivery lags run from their wall-clock creation (as a
// store keeps it, without a monotonic reading) to the write; the replayed
// ones have none, and the end of the replay is told once.
func TestWrittenTellsLagsOfTheLiveEventsOnly(t *testing.T) {
	m, d := &lagMetrics{}, &recorder{}
	r := diag.NewReplay(2, m, d)
	created := time.Now().Add(-3 * time.Second).UTC() // UTC drops the monotonic reading
	var events []*hub.Event
	for id := uint64(1); id <= 100; id++ {
		events = append(events, &hub.Event{Event: taskbridge.Event{ID: id, CreatedAt: created}})
	}
	before := time.Now()
	r.Written(events, taskbridge.StreamEvent{Transport: "sse"})
	after := time.Now()

	require.Len(t, m.lags, 98, "events 3 to 100 are live")
	for _, lag := range m.lags {
		require.GreaterOrEqual(t, lag, before.Sub(created))
		require.LessOrEqual(t, lag, after.Sub(created))
	}
	require.Len(t, d.events, 1)
	require.Equal(t, taskbridge.StreamReplayed, d.events[0].Kind)
	require.Equal(t, uint64(2), d.events[0].Cursor)
	require.Equal(t, 2, d.events[0].Events)
}
