package prommetrics

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batchHistogram is a histogram of durations with one label that takes a
// batch of observations at once: it counts the batch's buckets locally and
// then adds each bucket it touched with one atomic operation, where a
// prometheus.Histogram takes several atomic operations per observation.
// Delivery lag is observed for every event every stream writes, millions a
// second on a busy host, and observing them one by one took a fifth of the
// host's core.
type batchHistogram struct {
	desc   *prometheus.Desc
	bounds []time.Duration // the buckets' upper bounds; +Inf follows
	upper  []float64       // the same, in seconds

	mu     sync.Mutex
	series map[string]*batchSeries // by label value
}

// batchSeries is one label value's counts.
type batchSeries struct {
	label  string
	counts []atomic.Uint64 // per bucket, +Inf last; not cumulative
	sum    atomic.Uint64   // float64 bits of the sum, in seconds
}

// maxBatchBuckets bounds the buckets, +Inf included, so that a batch is
// counted in an array on the stack.
const maxBatchBuckets = 16

// newBatchHistogram describes a histogram named taskbridge_<name> with
// buckets in seconds and one label.
func newBatchHistogram(name, help string, buckets []float64, label string) *batchHistogram {
	if len(buckets)+1 > maxBatchBuckets {
		panic(fmt.Sprintf("prommetrics: %s has %d buckets, more than %d", name, len(buckets)+1, maxBatchBuckets))
	}
	h := &batchHistogram{
		desc:   prometheus.NewDesc(prometheus.BuildFQName("taskbridge", "", name), help, []string{label}, nil),
		upper:  buckets,
		series: map[string]*batchSeries{},
	}
	for _, b := range buckets {
		h.bounds = append(h.bounds, time.Duration(math.Round(b*float64(time.Second))))
	}
	return h
}

// with returns the series of a label value, making it when it is new.
func (h *batchHistogram) with(label string) *batchSeries {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[label]
	if s == nil {
		s = &batchSeries{label: label, counts: make([]atomic.Uint64, len(h.bounds)+1)}
		h.series[label] = s
	}
	return s
}

// observe adds values to s, a series of h.
func (h *batchHistogram) observe(s *batchSeries, values []time.Duration) {
	var counts [maxBatchBuckets]uint64
	var sum time.Duration
	for _, v := range values {
		i := 0
		for i < len(h.bounds) && v > h.bounds[i] {
			i++
		}
		counts[i]++
		sum += v
	}
	for i, n := range counts[:len(s.counts)] {
		if n > 0 {
			s.counts[i].Add(n)
		}
	}
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+sum.Seconds())) {
			return
		}
	}
}

// Describe implements prometheus.Collector.
func (h *batchHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector. Observations that land while it
// reads may be in some buckets and not yet in others, or in the buckets and
// not yet in the sum, as with any histogram read while it is written.
func (h *batchHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	series := slices.Collect(maps.Values(h.series))
	h.mu.Unlock()
	for _, s := range series {
		buckets := make(map[float64]uint64, len(h.upper))
		var count uint64
		for i := range s.counts {
			count += s.counts[i].Load()
			if i < len(h.upper) {
				buckets[h.upper[i]] = count
			}
		}
		ch <- prometheus.MustNewConstHistogram(h.desc, count, math.Float64frombits(s.sum.Load()), buckets, s.label)
	}
}
