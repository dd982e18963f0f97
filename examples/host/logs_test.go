package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestJSONLogsNameTheTask runs the host with -log-format json at debug
// level: every line is a JSON object, and the line about a refused request
// for a task carries its taskId and error code.
func TestJSONLogsNameTheTask(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	exited := make(chan int, 1)
	logs := &syncBuffer{}
	go func() {
		exited <- run(ctx, []string{"-addr", "127.0.0.1:0", "-log-format", "json", "-log-level", "debug"}, io.Discard, logs, ready)
	}()
	h := &host{base: "http://" + <-ready}
	r := h.do(t, http.MethodGet, "/api/v1/tasks/no-such-task", "alice", "", nil)
	require.Equal(t, http.StatusNotFound, r.status)
	http.DefaultClient.CloseIdleConnections()
	cancel()
	require.Equal(t, 0, <-exited)

	found := false
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "a JSON log line: %s", sc.Text())
		if line["msg"] == "request refused" && line["taskId"] == "no-such-task" {
			require.Equal(t, "TASK_NOT_FOUND", line["code"])
			require.Equal(t, "/api/v1/tasks/:taskId", line["route"])
			found = true
		}
	}
	require.True(t, found, "the refusal is logged with its task:\n%s", logs)
}
