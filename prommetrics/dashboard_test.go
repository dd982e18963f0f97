package prommetrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

// dashboard is what the test reads of the Grafana dashboard.
type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
}

var metricName = regexp.MustCompile(`taskbridge_[a-z_]+`)

// TestTheDashboardQueriesOnlyExportedMetrics reads deploy/grafana's
// dashboard and requires every metric its queries name to be exported,
// with the series suffixes of its type (_bucket of a histogram, say).
func TestTheDashboardQueriesOnlyExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/taskbridge.json")
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	require.NotEmpty(t, d.Title)
	require.NotEmpty(t, d.UID)

	m, reg := newMetrics(t)
	touchEverySeries(m)
	families, err := reg.Gather()
	require.NoError(t, err)
	series := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				series[name+suffix] = true
			}
			continue
		}
		series[name] = true
	}

	ids, queried := map[int]bool{}, 0
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel ids are unique: %d", p.ID)
		ids[p.ID] = true
		require.NotEmpty(t, p.Targets, "panel %q queries something", p.Title)
		for _, target := range p.Targets {
			require.NotEmpty(t, target.RefID)
			names := metricName.FindAllString(target.Expr, -1)
			require.NotEmpty(t, names, "panel %q: %s", p.Title, target.Expr)
			for _, name := range names {
				require.True(t, series[name], "panel %q queries %s, which is not exported", p.Title, name)
				queried++
			}
		}
	}
	for _, want := range []string{"Active tasks", "Event rate", "Delivery lag p50 / p99", "Open streams", "Slow-reader drops", "Error responses by code"} {
		found := false
		for _, p := range d.Panels {
			found = found || strings.EqualFold(p.Title, want)
		}
		require.True(t, found, "the dashboard has a panel %q", want)
	}
	require.Positive(t, queried)
}

// touchEverySeries calls every method once, so that every family has a
// series to gather.
func touchEverySeries(m taskbridge.Metrics) {
	m.StreamEvent(taskbridge.StreamEvent{Kind: taskbridge.StreamOpened, Transport: "sse"})
	m.StreamEvent(taskbridge.StreamEvent{Kind: taskbridge.StreamReplayed, Transport: "sse", Events: 1})
	m.StreamEvent(taskbridge.StreamEvent{Kind: taskbridge.StreamClosed, Transport: "sse", Reason: taskbridge.StreamSlowReader, Opened: true})
	m.TaskCreated("t", false)
	m.TaskEnded(taskbridge.StatusCompleted, "")
	m.EventAppended(taskbridge.EventMessage)
	m.StoreCall("memory", taskbridge.StoreAppend, time.Millisecond, true)
	m.RequestFailed("/r", "C")
	m.PollAnswered(taskbridge.PollEvents)
	m.ActionAnswered("ACCEPTED")
	m.EventsDelivered("sse", []time.Duration{time.Millisecond})
	m.HeartbeatSent("sse")
	m.HubRead(true)
	m.ExecutorLoad(0, 0)
	m.BackgroundPass("reconcile", 0)
}
