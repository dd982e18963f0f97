package prommetrics

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// TestBatchHistogramCountsAsAPrometheusHistogram feeds the same values, in
// batches, to a batchHistogram and one by one to a prometheus.Histogram with
// the same buckets, values on the bounds among them, and compares what the
// two expose.
func TestBatchHistogramCountsAsAPrometheusHistogram(t *testing.T) {
	batch := newBatchHistogram("lag_seconds", "help", latencyBuckets, "transport")
	reference := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "taskbridge", Name: "lag_seconds", Help: "help", Buckets: latencyBuckets}, []string{"transport"})
	rng := rand.New(rand.NewPCG(1, 2))
	values := []time.Duration{0, 500 * time.Microsecond, time.Millisecond, 10 * time.Second, 11 * time.Second, time.Hour}
	for range 1000 {
		values = append(values, time.Duration(rng.Int64N(int64(20*time.Second))))
	}
	for len(values) > 0 {
		n := min(len(values), 1+rng.IntN(100))
		for _, label := range []string{"sse", "other"} {
			batch.observe(batch.with(label), values[:n])
			for _, v := range values[:n] {
				reference.WithLabelValues(label).Observe(v.Seconds())
			}
		}
		values = values[n:]
	}
	got, want := collect(t, batch), collect(t, reference)
	require.Len(t, got, 2)
	for label, w := range want {
		g := got[label]
		require.NotNil(t, g, label)
		require.Equal(t, w.GetSampleCount(), g.GetSampleCount(), label)
		require.InDelta(t, w.GetSampleSum(), g.GetSampleSum(), 1e-6, label)
		require.Len(t, g.GetBucket(), len(w.GetBucket()), label)
		for i, b := range w.GetBucket() {
			require.Equal(t, b.GetUpperBound(), g.GetBucket()[i].GetUpperBound(), label)
			require.Equal(t, b.GetCumulativeCount(), g.GetBucket()[i].GetCumulativeCount(), "%s, bucket le=%v", label, b.GetUpperBound())
		}
	}
}

// collect reads a collector's histograms by their one label's value.
func collect(t *testing.T, c prometheus.Collector) map[string]*dto.Histogram {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	families, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, families, 1)
	out := map[string]*dto.Histogram{}
	for _, m := range families[0].GetMetric() {
		out[m.GetLabel()[0].GetValue()] = m.GetHistogram()
	}
	return out
}

func TestBatchHistogramRefusesTooManyBuckets(t *testing.T) {
	require.Panics(t, func() { newBatchHistogram("x", "help", make([]float64, maxBatchBuckets), "l") })
}
