package load

import (
	"context"
	"io"
	"math"
	"net/http"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/taskbridge-go/taskbridge/prommetrics"
)

// The server's own view of latency: a TaskBridge host exports the delivery
// lag of every live event it writes (taskbridge_delivery_lag_seconds, from
// its append to its write). The load tool reads it before and after the
// ticks, so that a run shows how much of the latency it measured the server
// accounts for and how much the network and the load tool itself add: when
// the load tool saturates its core, it is the load tool's own backlog that
// grows.

// lagMetric is the histogram's name.
const lagMetric = "taskbridge_delivery_lag_seconds"

// lagHistogram is one transport's delivery-lag histogram as the server
// exposes it: cumulative counts by upper bound, in seconds, +Inf last.
type lagHistogram struct {
	bounds []float64
	counts []float64
}

// metricsLabel is the transport label of t in the server's metrics.
func metricsLabel(t Transport) string {
	switch t {
	case SSE:
		return prommetrics.TransportSSE
	case WS:
		return prommetrics.TransportWebSocket
	}
	return ""
}

// scrapeLag reads the delivery-lag histogram of transport t from the
// server's /metrics. It reports false when the server exposes none (the
// bare fan-out server, a host without metrics, long polls).
func (c *client) scrapeLag(ctx context.Context, t Transport) (lagHistogram, bool) {
	label := metricsLabel(t)
	if label == "" {
		return lagHistogram{}, false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/metrics", nil), nil)
	if err != nil {
		return lagHistogram{}, false
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return lagHistogram{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return lagHistogram{}, false
	}
	h, err := parseLag(resp.Body, label)
	return h, err == nil && len(h.bounds) > 0
}

// parseLag reads the buckets of the series with transport=label from a
// Prometheus text exposition, by bound, +Inf last; none when there is no
// such series.
func parseLag(r io.Reader, label string) (lagHistogram, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return lagHistogram{}, err
	}
	for _, m := range families[lagMetric].GetMetric() {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == "transport" && l.GetValue() == label
		}) {
			continue
		}
		var h lagHistogram
		hist := m.GetHistogram()
		for _, b := range hist.GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) {
				h.bounds = append(h.bounds, b.GetUpperBound())
				h.counts = append(h.counts, float64(b.GetCumulativeCount()))
			}
		}
		h.bounds = append(h.bounds, math.Inf(1))
		h.counts = append(h.counts, float64(hist.GetSampleCount()))
		return h, nil
	}
	return lagHistogram{}, nil
}

// lagQuantile estimates the q-quantile of what was observed between two
// scrapes of one histogram, interpolating linearly within a bucket as
// Prometheus's histogram_quantile does; a quantile in the +Inf bucket is
// the highest finite bound. It reports false when nothing was observed.
func lagQuantile(before, after lagHistogram, q float64) (time.Duration, bool) {
	n := len(after.bounds)
	if n == 0 || len(before.bounds) != n {
		return 0, false
	}
	total := after.counts[n-1] - before.counts[n-1]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, bound := range after.bounds {
		count := after.counts[i] - before.counts[i]
		if count >= rank {
			if math.IsInf(bound, 1) {
				return seconds(lower), true
			}
			in := count - below
			if in <= 0 {
				return seconds(bound), true
			}
			return seconds(lower + (bound-lower)*(rank-below)/in), true
		}
		lower, below = bound, count
	}
	return seconds(lower), true
}

// seconds converts s to a duration, to the microsecond.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}
