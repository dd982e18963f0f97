package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A real Prometheus server scrapes the host: .ci/run starts one whose
// config scrapes TASKBRIDGE_TEST_PROMETHEUS_TARGET (job taskbridge-host)
// every second, and exports its address as TASKBRIDGE_TEST_PROMETHEUS_URL.
const prometheusJob = "taskbridge-host"

// prometheusEnv returns Prometheus' URL and the address it scrapes; the
// test skips without them, and fails in CI.
func prometheusEnv(t *testing.T) (string, string) {
	t.Helper()
	promURL, target := os.Getenv("TASKBRIDGE_TEST_PROMETHEUS_URL"), os.Getenv("TASKBRIDGE_TEST_PROMETHEUS_TARGET")
	if promURL == "" || target == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but TASKBRIDGE_TEST_PROMETHEUS_URL or TASKBRIDGE_TEST_PROMETHEUS_TARGET is not: .ci/run starts Prometheus")
		}
		t.Skip("set TASKBRIDGE_TEST_PROMETHEUS_URL and TASKBRIDGE_TEST_PROMETHEUS_TARGET (a Prometheus that scrapes that address as job " + prometheusJob + ") to run this test")
	}
	return promURL, target
}

// promQuery runs an instant query and returns the value of its one sample,
// or false when the result holds none.
func promQuery(t *testing.T, promURL, query string) (float64, bool) {
	t.Helper()
	res, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(query))
	require.NoError(t, err)
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Equal(t, "success", body.Status, body.Error)
	if len(body.Data.Result) != 1 {
		return 0, false
	}
	s, ok := body.Data.Result[0].Value[1].(string)
	require.True(t, ok, "a sample's value is a string")
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return v, true
}

// TestPrometheusScrapesTheHost runs a scripted task on the host Prometheus
// scrapes and asks Prometheus, through its HTTP API, how many events the
// task's type appended.
func TestPrometheusScrapesTheHost(t *testing.T) {
	t.Parallel()
	promURL, target := prometheusEnv(t)
	h := startHost(t, "-addr", target)
	id := h.createScripted(t, "alice", "prometheus",
		step("ticks", map[string]any{"count": 7, "intervalMs": 1}),
		step("complete", map[string]any{"result": "done"}))
	history := h.follow(t, "alice", id)
	require.Equal(t, "TASK_COMPLETED", history[len(history)-1].Type)

	query := `sum(taskbridge_events_appended_total{job="` + prometheusJob + `"})`
	var got float64
	require.Eventually(t, func() bool {
		v, ok := promQuery(t, promURL, query)
		got = v
		return ok && v == float64(len(history))
	}, 30*time.Second, 200*time.Millisecond, "Prometheus reports %v events appended; the task has %d", got, len(history))
	up, ok := promQuery(t, promURL, `up{job="`+prometheusJob+`"}`)
	require.True(t, ok)
	require.Equal(t, 1.0, up)
}
