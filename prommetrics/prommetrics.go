// Package prommetrics exports a bridge's metrics to Prometheus: it
// implements taskbridge.Metrics on collectors registered on the registry a
// host passes in, and serves nothing itself (a host serves its registry,
// with promhttp, where it wants).
//
//	reg := prometheus.NewRegistry()
//	m, err := prommetrics.New(reg)
//	b, err := bridge.New(bridge.Config{Metrics: m, ...})
//	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
//
// Every name starts with taskbridge_; labels are bounded (task types,
// statuses, error and failure codes, transports, reasons), never a task id
// or a subject. The calls made for every write of a stream, heartbeat or
// hub read allocate nothing.
package prommetrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskbridge-go/taskbridge"
)

// Transports are the transport label's values.
const (
	TransportSSE       = "sse"
	TransportWebSocket = "websocket"
)

// Metrics is a taskbridge.Metrics whose collectors are registered on one
// registry. It is safe for concurrent use.
type Metrics struct {
	tasksCreated   *prometheus.CounterVec
	tasksEnded     *prometheus.CounterVec
	eventsAppended *prometheus.CounterVec
	storeCalls     *prometheus.HistogramVec
	storeErrors    *prometheus.CounterVec
	requestErrors  *prometheus.CounterVec
	pollsAnswered  *prometheus.CounterVec
	actions        *prometheus.CounterVec
	streamsOpen    *prometheus.GaugeVec
	streamsOpened  *prometheus.CounterVec
	streamsClosed  *prometheus.CounterVec
	replays        *prometheus.HistogramVec
	slowBehind     *prometheus.HistogramVec
	deliveryLag    *batchHistogram
	heartbeats     *prometheus.CounterVec
	hubReads       *prometheus.CounterVec
	executorQueued prometheus.Gauge
	executorRuns   prometheus.Gauge
	passes         *prometheus.CounterVec
	passItems      *prometheus.CounterVec

	// Resolved once: the children the calls made per write or read use.
	lag        [2]*batchSeries // by transport index
	heartbeat  [2]prometheus.Counter
	cacheReads prometheus.Counter
	storeReads prometheus.Counter
}

var _ taskbridge.Metrics = (*Metrics)(nil)

// Buckets of the histograms.
var (
	// latencyBuckets span a store call or a live delivery: 0.5 ms to 10 s.
	latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// countBuckets span the events of a replay or a backlog: 1 to 100,000.
	countBuckets = []float64{1, 10, 100, 1000, 10000, 100000}
)

// New returns Metrics with its collectors registered on reg, or the
// registry's error (a second Metrics on one registry is refused).
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		tasksCreated: counter("tasks_created_total",
			"Tasks created, by task type; deduplicated creates found an earlier task by clientRequestId.", "task_type", "deduplicated"),
		tasksEnded: counter("tasks_ended_total",
			"Tasks that reached a terminal status, by status and failure code (empty unless FAILED).", "status", "code"),
		eventsAppended: counter("events_appended_total",
			"Events appended to task histories, by event type.", "type"),
		storeCalls: histogram("store_call_duration_seconds",
			"Duration of the store's appends and reads, by store and operation.", latencyBuckets, "store", "op"),
		storeErrors: counter("store_call_errors_total",
			"Store appends and reads that failed, by store and operation.", "store", "op"),
		requestErrors: counter("request_errors_total",
			"API requests answered with an error envelope, by route and error code.", "route", "code"),
		pollsAnswered: counter("polls_answered_total",
			"Event polls answered, by outcome: events, timeout (none came within the wait) or shutdown.", "outcome"),
		actions: counter("actions_total",
			"Actions on suspensions, by outcome: ACCEPTED, DEDUPLICATED or the error code of a refusal.", "outcome"),
		streamsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "taskbridge", Name: "streams_open",
			Help: "Streams following a task now, by transport."}, []string{"transport"}),
		streamsOpened: counter("streams_opened_total",
			"Streams that opened, by transport.", "transport"),
		streamsClosed: counter("streams_closed_total",
			"Streams that ended, by transport and reason (terminal, client_gone, slow_reader, heartbeat_timeout, shutdown, refused, bad_frame, failed).", "transport", "reason"),
		replays: histogram("stream_replayed_events",
			"Events a resuming stream replayed before it was live, by transport; its count is the number of replays.", countBuckets, "transport"),
		slowBehind: histogram("stream_slow_reader_behind_events",
			"How many events behind its task a slow reader was when it was cut, by transport.", countBuckets, "transport"),
		deliveryLag: newBatchHistogram("delivery_lag_seconds",
			"Time from a live event's append to its write to a stream, by transport.", latencyBuckets, "transport"),
		heartbeats: counter("heartbeats_total",
			"Heartbeats written to idle streams, by transport.", "transport"),
		hubReads: counter("hub_reads_total",
			"Reads of stream events, by source: the hub's cache (a hit) or the store (a miss).", "source"),
		executorQueued: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "taskbridge", Name: "executor_queued_tasks",
			Help: "Tasks the local executor holds waiting for a slot."}),
		executorRuns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "taskbridge", Name: "executor_running_tasks",
			Help: "Task handlers the local executor runs now (a suspended task's handler does not count)."}),
		passes: counter("background_passes_total",
			"Passes of background work, by kind of work (reconcile, expire, prune_receipts, remove_tasks, leases).", "work"),
		passItems: counter("background_items_total",
			"Items background passes handled, by kind of work: hand-offs, suspensions expired, receipts pruned, tasks removed, lost tasks ended.", "work"),
	}
	for _, c := range []prometheus.Collector{
		m.tasksCreated, m.tasksEnded, m.eventsAppended, m.storeCalls, m.storeErrors, m.requestErrors,
		m.pollsAnswered, m.actions, m.streamsOpen, m.streamsOpened, m.streamsClosed, m.replays,
		m.slowBehind, m.deliveryLag, m.heartbeats, m.hubReads, m.executorQueued, m.executorRuns,
		m.passes, m.passItems,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for i, t := range []string{TransportSSE, TransportWebSocket} {
		m.lag[i] = m.deliveryLag.with(t)
		m.heartbeat[i] = m.heartbeats.WithLabelValues(t)
		// Known series from the start, at zero, so that rates and
		// dashboards see them before the first stream.
		m.streamsOpen.WithLabelValues(t)
		m.streamsOpened.WithLabelValues(t)
	}
	m.cacheReads = m.hubReads.WithLabelValues("cache")
	m.storeReads = m.hubReads.WithLabelValues("store")
	for _, o := range []taskbridge.PollOutcome{taskbridge.PollEvents, taskbridge.PollTimeout, taskbridge.PollShutdown} {
		m.pollsAnswered.WithLabelValues(string(o))
	}
	return m, nil
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "taskbridge", Name: name, Help: help}, labels)
}

func histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "taskbridge", Name: name, Help: help, Buckets: buckets}, labels)
}

// transport is the index of a transport in the resolved children, or -1.
func transport(t string) int {
	switch t {
	case TransportSSE:
		return 0
	case TransportWebSocket:
		return 1
	}
	return -1
}

// StreamEvent counts a stream's step: opened, replayed (with the events
// replayed) and closed (with its reason, and how far behind a slow reader
// was).
func (m *Metrics) StreamEvent(e taskbridge.StreamEvent) {
	switch e.Kind {
	case taskbridge.StreamOpened:
		m.streamsOpen.WithLabelValues(e.Transport).Inc()
		m.streamsOpened.WithLabelValues(e.Transport).Inc()
	case taskbridge.StreamReplayed:
		m.replays.WithLabelValues(e.Transport).Observe(float64(e.Events))
	case taskbridge.StreamClosed:
		if e.Opened {
			m.streamsOpen.WithLabelValues(e.Transport).Dec()
		}
		m.streamsClosed.WithLabelValues(e.Transport, string(e.Reason)).Inc()
		if e.Reason == taskbridge.StreamSlowReader {
			m.slowBehind.WithLabelValues(e.Transport).Observe(float64(e.Behind))
		}
	}
}

// TaskCreated counts a create.
func (m *Metrics) TaskCreated(taskType string, deduplicated bool) {
	m.tasksCreated.WithLabelValues(taskType, strconv.FormatBool(deduplicated)).Inc()
}

// TaskEnded counts a task that ended.
func (m *Metrics) TaskEnded(status taskbridge.TaskStatus, code string) {
	m.tasksEnded.WithLabelValues(string(status), code).Inc()
}

// EventAppended counts an appended event.
func (m *Metrics) EventAppended(t taskbridge.EventType) {
	m.eventsAppended.WithLabelValues(string(t)).Inc()
}

// StoreCall times a store call.
func (m *Metrics) StoreCall(store string, op taskbridge.StoreOp, d time.Duration, failed bool) {
	m.storeCalls.WithLabelValues(store, string(op)).Observe(d.Seconds())
	if failed {
		m.storeErrors.WithLabelValues(store, string(op)).Inc()
	}
}

// RequestFailed counts an error response.
func (m *Metrics) RequestFailed(operation, code string) {
	m.requestErrors.WithLabelValues(operation, code).Inc()
}

// PollAnswered counts an answered poll.
func (m *Metrics) PollAnswered(outcome taskbridge.PollOutcome) {
	m.pollsAnswered.WithLabelValues(string(outcome)).Inc()
}

// ActionAnswered counts an action.
func (m *Metrics) ActionAnswered(outcome string) {
	m.actions.WithLabelValues(outcome).Inc()
}

// EventsDelivered observes the delivery lags of a write's live events.
func (m *Metrics) EventsDelivered(t string, lags []time.Duration) {
	if i := transport(t); i >= 0 {
		m.deliveryLag.observe(m.lag[i], lags)
		return
	}
	m.deliveryLag.observe(m.deliveryLag.with(t), lags)
}

// HeartbeatSent counts a heartbeat.
func (m *Metrics) HeartbeatSent(t string) {
	if i := transport(t); i >= 0 {
		m.heartbeat[i].Inc()
		return
	}
	m.heartbeats.WithLabelValues(t).Inc()
}

// HubRead counts a read of stream events by its source.
func (m *Metrics) HubRead(fromCache bool) {
	if fromCache {
		m.cacheReads.Inc()
		return
	}
	m.storeReads.Inc()
}

// ExecutorLoad sets the executor's gauges.
func (m *Metrics) ExecutorLoad(queued, running int) {
	m.executorQueued.Set(float64(queued))
	m.executorRuns.Set(float64(running))
}

// BackgroundPass counts a pass of background work and what it handled.
func (m *Metrics) BackgroundPass(work string, items int) {
	m.passes.WithLabelValues(work).Inc()
	m.passItems.WithLabelValues(work).Add(float64(items))
}
