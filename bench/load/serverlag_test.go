package load

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const exposition = `# HELP taskbridge_delivery_lag_seconds Time from a live event's append to its write to a stream, by transport.
# TYPE taskbridge_delivery_lag_seconds histogram
taskbridge_delivery_lag_seconds_bucket{transport="sse",le="0.01"} 50
taskbridge_delivery_lag_seconds_bucket{transport="sse",le="0.1"} 90
taskbridge_delivery_lag_seconds_bucket{transport="sse",le="1"} 100
taskbridge_delivery_lag_seconds_bucket{transport="sse",le="+Inf"} 1e+02
taskbridge_delivery_lag_seconds_sum{transport="sse"} 3
taskbridge_delivery_lag_seconds_count{transport="sse"} 100
taskbridge_delivery_lag_seconds_bucket{transport="websocket",le="0.01"} 7
taskbridge_delivery_lag_seconds_bucket{transport="websocket",le="0.1"} 7
taskbridge_delivery_lag_seconds_bucket{transport="websocket",le="1"} 7
taskbridge_delivery_lag_seconds_bucket{transport="websocket",le="+Inf"} 9
taskbridge_delivery_lag_seconds_sum{transport="websocket"} 0.5
taskbridge_delivery_lag_seconds_count{transport="websocket"} 9
`

func TestParseLagReadsOneTransportsBuckets(t *testing.T) {
	h, err := parseLag(strings.NewReader(exposition), "sse")
	require.NoError(t, err)
	require.Len(t, h.bounds, 4)
	require.Equal(t, []float64{50, 90, 100, 100}, h.counts)
	ws, err := parseLag(strings.NewReader(exposition), "websocket")
	require.NoError(t, err)
	require.Equal(t, []float64{7, 7, 7, 9}, ws.counts)
	none, err := parseLag(strings.NewReader(exposition), "poll")
	require.NoError(t, err)
	require.Empty(t, none.bounds)
}

func TestLagQuantileInterpolatesWithinABucket(t *testing.T) {
	zero := lagHistogram{bounds: []float64{0.01, 0.1, 1, math.Inf(1)}, counts: []float64{0, 0, 0, 0}}
	h, err := parseLag(strings.NewReader(exposition), "sse")
	require.NoError(t, err)

	p50, ok := lagQuantile(zero, h, 0.5)
	require.True(t, ok)
	require.Equal(t, 10*time.Millisecond, p50, "the 50th of 100 is the top of the first bucket")
	p70, _ := lagQuantile(zero, h, 0.7)
	require.Equal(t, 55*time.Millisecond, p70, "halfway into the second bucket")
	p99, _ := lagQuantile(zero, h, 0.99)
	require.Equal(t, 910*time.Millisecond, p99)

	_, ok = lagQuantile(h, h, 0.5)
	require.False(t, ok, "nothing observed between two equal scrapes")

	ws, _ := parseLag(strings.NewReader(exposition), "websocket")
	top, _ := lagQuantile(zero, ws, 0.99)
	require.Equal(t, time.Second, top, "in the +Inf bucket: the highest finite bound")
}
