package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace endpoint that keeps the names of the
// spans it receives.
type otlpReceiver struct {
	mu    sync.Mutex
	names map[string]int
	errs  []error
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var export coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &export)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || req.URL.Path != "/v1/traces" {
		r.errs = append(r.errs, err)
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	for _, rs := range export.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.names[s.GetName()]++
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

// TestTheHostExportsTracesOverOTLP runs the host with the standard OTLP
// variables pointing at a receiver: a task's create, run and reports
// arrive there, flushed at shutdown. It sets process environment
// variables, so it does not run in parallel.
func TestTheHostExportsTracesOverOTLP(t *testing.T) {
	receiver := &otlpReceiver{names: map[string]int{}}
	server := httptest.NewServer(receiver)
	defer server.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	exited := make(chan int, 1)
	logs := &syncBuffer{}
	go func() {
		exited <- run(ctx, []string{"-addr", "127.0.0.1:0", "-drain", "5s", "-log-level", "error"}, io.Discard, logs, ready)
	}()
	h := &host{base: "http://" + <-ready}
	id := h.createScripted(t, "alice", "traced", step("ticks", map[string]any{"count": 2, "intervalMs": 1}), step("complete", map[string]any{"result": "ok"}))
	history := h.follow(t, "alice", id)
	require.Equal(t, "TASK_COMPLETED", history[len(history)-1].Type)
	http.DefaultClient.CloseIdleConnections()
	cancel()
	require.Equal(t, 0, <-exited, "logs:\n%s", logs)

	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	require.Empty(t, receiver.errs)
	require.Equal(t, 1, receiver.names["createTask"])
	require.Equal(t, 1, receiver.names["run scripted"])
	require.Equal(t, 1, receiver.names["report TASK_COMPLETED"])
	require.Equal(t, 2, receiver.names["report TASK_MESSAGE"])
	require.Positive(t, receiver.names["pollTaskEvents"])
}
