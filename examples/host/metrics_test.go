package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// scrape reads /metrics with Prometheus' own text parser.
func (h *host) scrape(t *testing.T) metricFamilies {
	t.Helper()
	res, err := http.Get(h.base + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	return families
}

type metricFamilies map[string]*dto.MetricFamily

// find returns the series of the family whose labels include labels
// (name, value, ...), or nil.
func (m metricFamilies) find(name string, labels ...string) *dto.Metric {
	f := m[name]
	if f == nil {
		return nil
	}
next:
	for _, metric := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range metric.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return metric
	}
	return nil
}

// value is a counter's or a gauge's value; 0 for a series not exported.
func (m metricFamilies) value(name string, labels ...string) float64 {
	metric := m.find(name, labels...)
	switch {
	case metric == nil:
		return 0
	case metric.GetCounter() != nil:
		return metric.GetCounter().GetValue()
	case metric.GetGauge() != nil:
		return metric.GetGauge().GetValue()
	}
	return 0
}

// histogram is a histogram's sample count and sum.
func (m metricFamilies) histogram(name string, labels ...string) (uint64, float64) {
	metric := m.find(name, labels...)
	if metric == nil || metric.GetHistogram() == nil {
		return 0, 0
	}
	return metric.GetHistogram().GetSampleCount(), metric.GetHistogram().GetSampleSum()
}

// sseReader reads an SSE response frame by frame.
type sseReader struct {
	res *http.Response
	sc  *bufio.Scanner
}

func (r *sseReader) next(t *testing.T, taskID string) (wireEvent, bool) {
	t.Helper()
	data := ""
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			return checkEvent(t, taskID, json.RawMessage(data)), true
		}
	}
	return wireEvent{}, false
}

// TestMetricsCountAScriptedTaskWithACutAndAResume runs a task through a
// suspension, follows it live over SSE, cuts the stream and resumes it
// after the end, then reads /metrics as Prometheus would and checks what
// each metric says of it.
func TestMetricsCountAScriptedTaskWithACutAndAResume(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "metrics",
		step("suspend", map[string]any{"reasonCode": "APPROVAL", "allowedActions": []string{"approve"}}),
		step("ticks", map[string]any{"count": 20, "intervalMs": 20}),
		step("complete", map[string]any{"result": "done"}))
	suspended := h.waitFor(t, "alice", id, "TASK_SUSPENDED")
	var sp gen.TaskSuspendedPayload
	require.NoError(t, json.Unmarshal(suspended.Payload, &sp))

	// Live from the suspension: the action's events arrive as they come.
	res := h.sse(t, "/api/v1/tasks/"+id+"/events/stream", http.Header{"Authorization": {"Bearer alice"}, "Last-Event-ID": {suspended.EventID}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	live := &sseReader{res: res, sc: bufio.NewScanner(res.Body)}
	status, _, _ := h.act(t, "alice", id, action("a1", sp.SuspendId, "approve", nil))
	require.Equal(t, http.StatusAccepted, status)
	var read []wireEvent
	for len(read) < 3 {
		e, ok := live.next(t, id)
		require.True(t, ok, "the live stream ended early")
		read = append(read, e)
	}
	require.NoError(t, res.Body.Close()) // cut mid-stream

	history := h.follow(t, "alice", id)
	require.Equal(t, "TASK_COMPLETED", history[len(history)-1].Type)
	cursor := read[len(read)-1].EventID
	resumed := sseEvents(t, h.sse(t, "/api/v1/tasks/"+id+"/events/stream", http.Header{"Authorization": {"Bearer alice"}, "Last-Event-ID": {cursor}}), id)
	require.Equal(t, history[eventNumber(t, cursor):], resumed, "the resume replays the rest")

	// The cut stream ends once the host sees its client gone; the resumed
	// one is counted once its handler returns, which may come a moment
	// after the client read the end of its response.
	var m metricFamilies
	require.Eventually(t, func() bool {
		m = h.scrape(t)
		return m.value("taskbridge_streams_closed_total", "transport", "sse", "reason", "client_gone") == 1 &&
			m.value("taskbridge_streams_closed_total", "transport", "sse", "reason", "terminal") == 1
	}, 10*time.Second, 20*time.Millisecond, "the cut stream is counted as client_gone, the resumed one as terminal")

	require.Equal(t, 1.0, m.value("taskbridge_tasks_created_total", "task_type", "scripted", "deduplicated", "false"))
	require.Equal(t, 1.0, m.value("taskbridge_tasks_ended_total", "status", "COMPLETED", "code", ""))
	byType := map[string]float64{}
	for _, e := range history {
		byType[e.Type]++
	}
	for typ, n := range byType {
		require.Equal(t, n, m.value("taskbridge_events_appended_total", "type", typ), "events of type %s", typ)
	}
	require.Equal(t, 1.0, m.value("taskbridge_actions_total", "outcome", "ACCEPTED"))

	require.Equal(t, 2.0, m.value("taskbridge_streams_opened_total", "transport", "sse"))
	require.Equal(t, 1.0, m.value("taskbridge_streams_closed_total", "transport", "sse", "reason", "terminal"))
	require.Equal(t, 0.0, m.value("taskbridge_streams_open", "transport", "sse"))
	replays, replayed := m.histogram("taskbridge_stream_replayed_events", "transport", "sse")
	require.Equal(t, uint64(1), replays, "only the resume had events to replay")
	require.Equal(t, float64(len(resumed)), replayed)
	delivered, _ := m.histogram("taskbridge_delivery_lag_seconds", "transport", "sse")
	require.GreaterOrEqual(t, delivered, uint64(len(read)), "every live event read was delivered, and timed")
	require.LessOrEqual(t, delivered, uint64(len(history)-eventNumber(t, suspended.EventID)), "replayed events are not live")

	// Every event but TASK_ACTION_ACCEPTED (the store records it with the
	// action) went through the store's Append.
	appends, _ := m.histogram("taskbridge_store_call_duration_seconds", "store", "memory", "op", "append")
	require.Equal(t, uint64(len(history)-1), appends)
	reads, _ := m.histogram("taskbridge_store_call_duration_seconds", "store", "memory", "op", "read")
	require.Positive(t, reads)
	require.Positive(t, m.value("taskbridge_polls_answered_total", "outcome", "events"))
	require.Positive(t, m.value("taskbridge_hub_reads_total", "source", "cache")+m.value("taskbridge_hub_reads_total", "source", "store"))
	require.Equal(t, 0.0, m.value("taskbridge_executor_running_tasks"))
	require.Equal(t, 0.0, m.value("taskbridge_executor_queued_tasks"))
	require.NotNil(t, m["go_goroutines"], "the Go collector is there too")
}

// TestMetricsOff: -metrics=false serves no /metrics.
func TestMetricsOff(t *testing.T) {
	t.Parallel()
	h := startHost(t, "-metrics=false")
	res, err := http.Get(h.base + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// TestEveryMetricHasHelpAndABaseUnitName checks the exported names against
// the Prometheus naming conventions.
func TestEveryMetricHasHelpAndABaseUnitName(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	var names []string
	for name, f := range h.scrape(t) {
		if !strings.HasPrefix(name, "taskbridge_") {
			continue
		}
		names = append(names, name)
		require.NotEmpty(t, f.GetHelp(), name)
		if f.GetType() == dto.MetricType_COUNTER {
			require.True(t, strings.HasSuffix(name, "_total"), "a counter ends in _total: %s", name)
		}
		require.NotContains(t, name, "milliseconds", "base units: %s", name)
	}
	sort.Strings(names)
	require.NotEmpty(t, names)
}
