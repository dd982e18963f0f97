package prommetrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/prommetrics"
)

func newMetrics(t *testing.T) (*prommetrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := prommetrics.New(reg)
	require.NoError(t, err)
	return m, reg
}

// TestAScenarioCountsExactly drives the calls one task, two streams and a
// few requests make, and reads back every series they touch.
func TestAScenarioCountsExactly(t *testing.T) {
	m, reg := newMetrics(t)
	m.TaskCreated("scripted", false)
	m.TaskCreated("scripted", true)
	for _, e := range []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventMessage, taskbridge.EventMessage, taskbridge.EventCompleted} {
		m.EventAppended(e)
	}
	m.TaskEnded(taskbridge.StatusCompleted, "")
	m.TaskEnded(taskbridge.StatusFailed, "HANDLER_ERROR")
	m.StoreCall("postgres", taskbridge.StoreAppend, 3*time.Millisecond, false)
	m.StoreCall("postgres", taskbridge.StoreAppend, 30*time.Millisecond, true)
	m.RequestFailed("/api/v1/tasks/:taskId", "TASK_NOT_FOUND")
	m.PollAnswered(taskbridge.PollTimeout)
	m.ActionAnswered("ACCEPTED")
	m.ActionAnswered("SUSPENSION_NOT_OPEN")

	sse := taskbridge.StreamEvent{Transport: "sse", TaskID: "t1"}
	ws := taskbridge.StreamEvent{Transport: "websocket", TaskID: "t1"}
	for _, e := range []taskbridge.StreamEvent{
		with(sse, taskbridge.StreamOpened, ""),
		with(ws, taskbridge.StreamOpened, ""),
		{Kind: taskbridge.StreamReplayed, Transport: "websocket", Events: 40},
		{Kind: taskbridge.StreamClosed, Transport: "sse", Reason: taskbridge.StreamSlowReader, Opened: true, Behind: 500},
		{Kind: taskbridge.StreamClosed, Transport: "websocket", Reason: taskbridge.StreamBadFrame}, // never opened
	} {
		m.StreamEvent(e)
	}
	m.EventsDelivered("sse", []time.Duration{2 * time.Millisecond})
	m.EventsDelivered("websocket", []time.Duration{20 * time.Millisecond, 40 * time.Millisecond})
	m.HeartbeatSent("sse")
	m.HubRead(true)
	m.HubRead(true)
	m.HubRead(false)
	m.ExecutorLoad(3, 7)
	m.BackgroundPass("reconcile", 0)
	m.BackgroundPass("reconcile", 2)

	want := `
# HELP taskbridge_tasks_created_total Tasks created, by task type; deduplicated creates found an earlier task by clientRequestId.
# TYPE taskbridge_tasks_created_total counter
taskbridge_tasks_created_total{deduplicated="false",task_type="scripted"} 1
taskbridge_tasks_created_total{deduplicated="true",task_type="scripted"} 1
# HELP taskbridge_tasks_ended_total Tasks that reached a terminal status, by status and failure code (empty unless FAILED).
# TYPE taskbridge_tasks_ended_total counter
taskbridge_tasks_ended_total{code="",status="COMPLETED"} 1
taskbridge_tasks_ended_total{code="HANDLER_ERROR",status="FAILED"} 1
# HELP taskbridge_events_appended_total Events appended to task histories, by event type.
# TYPE taskbridge_events_appended_total counter
taskbridge_events_appended_total{type="TASK_COMPLETED"} 1
taskbridge_events_appended_total{type="TASK_MESSAGE"} 2
taskbridge_events_appended_total{type="TASK_STARTED"} 1
# HELP taskbridge_store_call_errors_total Store appends and reads that failed, by store and operation.
# TYPE taskbridge_store_call_errors_total counter
taskbridge_store_call_errors_total{op="append",store="postgres"} 1
# HELP taskbridge_request_errors_total API requests answered with an error envelope, by route and error code.
# TYPE taskbridge_request_errors_total counter
taskbridge_request_errors_total{code="TASK_NOT_FOUND",route="/api/v1/tasks/:taskId"} 1
# HELP taskbridge_polls_answered_total Event polls answered, by outcome: events, timeout (none came within the wait) or shutdown.
# TYPE taskbridge_polls_answered_total counter
taskbridge_polls_answered_total{outcome="events"} 0
taskbridge_polls_answered_total{outcome="shutdown"} 0
taskbridge_polls_answered_total{outcome="timeout"} 1
# HELP taskbridge_actions_total Actions on suspensions, by outcome: ACCEPTED, DEDUPLICATED or the error code of a refusal.
# TYPE taskbridge_actions_total counter
taskbridge_actions_total{outcome="ACCEPTED"} 1
taskbridge_actions_total{outcome="SUSPENSION_NOT_OPEN"} 1
# HELP taskbridge_streams_open Streams following a task now, by transport.
# TYPE taskbridge_streams_open gauge
taskbridge_streams_open{transport="sse"} 0
taskbridge_streams_open{transport="websocket"} 1
# HELP taskbridge_streams_opened_total Streams that opened, by transport.
# TYPE taskbridge_streams_opened_total counter
taskbridge_streams_opened_total{transport="sse"} 1
taskbridge_streams_opened_total{transport="websocket"} 1
# HELP taskbridge_streams_closed_total Streams that ended, by transport and reason (terminal, client_gone, slow_reader, heartbeat_timeout, shutdown, refused, bad_frame, failed).
# TYPE taskbridge_streams_closed_total counter
taskbridge_streams_closed_total{reason="bad_frame",transport="websocket"} 1
taskbridge_streams_closed_total{reason="slow_reader",transport="sse"} 1
# HELP taskbridge_heartbeats_total Heartbeats written to idle streams, by transport.
# TYPE taskbridge_heartbeats_total counter
taskbridge_heartbeats_total{transport="sse"} 1
taskbridge_heartbeats_total{transport="websocket"} 0
# HELP taskbridge_hub_reads_total Reads of stream events, by source: the hub's cache (a hit) or the store (a miss).
# TYPE taskbridge_hub_reads_total counter
taskbridge_hub_reads_total{source="cache"} 2
taskbridge_hub_reads_total{source="store"} 1
# HELP taskbridge_executor_queued_tasks Tasks the local executor holds waiting for a slot.
# TYPE taskbridge_executor_queued_tasks gauge
taskbridge_executor_queued_tasks 3
# HELP taskbridge_executor_running_tasks Task handlers the local executor runs now (a suspended task's handler does not count).
# TYPE taskbridge_executor_running_tasks gauge
taskbridge_executor_running_tasks 7
# HELP taskbridge_background_passes_total Passes of background work, by kind of work (reconcile, expire, prune_receipts, remove_tasks, leases).
# TYPE taskbridge_background_passes_total counter
taskbridge_background_passes_total{work="reconcile"} 2
# HELP taskbridge_background_items_total Items background passes handled, by kind of work: hand-offs, suspensions expired, receipts pruned, tasks removed, lost tasks ended.
# TYPE taskbridge_background_items_total counter
taskbridge_background_items_total{work="reconcile"} 2
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"taskbridge_tasks_created_total", "taskbridge_tasks_ended_total", "taskbridge_events_appended_total",
		"taskbridge_store_call_errors_total", "taskbridge_request_errors_total", "taskbridge_polls_answered_total",
		"taskbridge_actions_total", "taskbridge_streams_open", "taskbridge_streams_opened_total",
		"taskbridge_streams_closed_total", "taskbridge_heartbeats_total", "taskbridge_hub_reads_total",
		"taskbridge_executor_queued_tasks", "taskbridge_executor_running_tasks",
		"taskbridge_background_passes_total", "taskbridge_background_items_total"))

	// The histograms: counts and sums.
	families, err := reg.Gather()
	require.NoError(t, err)
	hist := map[string]map[string][2]float64{} // name -> label values -> count, sum
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			if h := metric.GetHistogram(); h != nil {
				var labels []string
				for _, l := range metric.GetLabel() {
					labels = append(labels, l.GetValue())
				}
				if hist[f.GetName()] == nil {
					hist[f.GetName()] = map[string][2]float64{}
				}
				hist[f.GetName()][strings.Join(labels, ",")] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
			}
		}
	}
	require.Equal(t, [2]float64{2, 0.033}, round(hist["taskbridge_store_call_duration_seconds"]["append,postgres"]))
	require.Equal(t, [2]float64{1, 0.002}, round(hist["taskbridge_delivery_lag_seconds"]["sse"]))
	require.Equal(t, [2]float64{2, 0.06}, round(hist["taskbridge_delivery_lag_seconds"]["websocket"]))
	require.Equal(t, [2]float64{1, 40}, hist["taskbridge_stream_replayed_events"]["websocket"])
	require.Equal(t, [2]float64{1, 500}, hist["taskbridge_stream_slow_reader_behind_events"]["sse"])
}

func with(e taskbridge.StreamEvent, kind taskbridge.StreamEventKind, reason taskbridge.StreamReason) taskbridge.StreamEvent {
	e.Kind, e.Reason = kind, reason
	return e
}

func round(v [2]float64) [2]float64 {
	return [2]float64{v[0], float64(int(v[1]*1e6+0.5)) / 1e6}
}

// TestThePerEventCallsAllocateNothing: a stream calls these for every
// write or read; they must not allocate.
func TestThePerEventCallsAllocateNothing(t *testing.T) {
	m, _ := newMetrics(t)
	lags := []time.Duration{time.Millisecond, time.Minute}
	require.Zero(t, testing.AllocsPerRun(1000, func() {
		m.EventsDelivered("sse", lags)
		m.EventsDelivered("websocket", lags)
		m.HeartbeatSent("websocket")
		m.HubRead(true)
		m.HubRead(false)
		m.StoreCall("memory", taskbridge.StoreRead, time.Millisecond, false)
		m.EventAppended(taskbridge.EventMessage)
	}))
}

func TestASecondMetricsOnOneRegistryIsRefused(t *testing.T) {
	_, reg := newMetrics(t)
	_, err := prommetrics.New(reg)
	require.Error(t, err)
}
