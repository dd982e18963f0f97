package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskbridge-go/taskbridge"
)

// TestATaskIsOneTrace records the spans of a create whose task reports
// progress and completes, and requires their tree: the create request,
// under the caller's span; the task's run under the create; each report
// under the run; each store append under its report.
func TestATaskIsOneTrace(t *testing.T) {
	t.Parallel()
	recorder := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })

	cfg := testConfig()
	cfg.TaskTypes.Contract = []byte(strings.Replace(contractJSON, `"wait": {`,
		`"quick": {"input": {"$ref": "#/components/schemas/Obj"}, "result": {"$ref": "#/components/schemas/Obj"}}, "wait": {`, 1))
	cfg.TaskTypes.Types = append(cfg.TaskTypes.Types, TaskType{Name: "quick", Run: func(ctx context.Context, r Run) (json.RawMessage, error) {
		if err := r.Progress(ctx, taskbridge.Progress{Percent: 50}); err != nil {
			return nil, err
		}
		return json.RawMessage(`{}`), nil
	}})
	cfg.TracerProvider = provider
	b, server, ran := runBridge(t, cfg)
	t.Cleanup(func() {
		require.NoError(t, b.Shutdown(context.Background()))
		require.NoError(t, <-ran)
	})

	// The caller's own span, sent as a W3C traceparent.
	callerTrace := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled, Remote: true})
	req, err := http.NewRequest(http.MethodPost, server.URL+"/api/v1/tasks", strings.NewReader(`{"clientRequestId":"r1","taskType":"quick","input":{}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer alice")
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), callerTrace), propagation.HeaderCarrier(req.Header))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var created struct{ TaskID string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&created))
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var spans []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		spans = recorder.Ended()
		return len(byName(spans, "run quick")) == 1
	}, guard, 10*time.Millisecond, "the run span ends after the final report")
	task, err := b.store.GetTask(context.Background(), created.TaskID)
	require.NoError(t, err)
	require.Equal(t, taskbridge.StatusCompleted, task.Status)

	create := only(t, spans, "createTask")
	require.Equal(t, trace.SpanKindServer, create.SpanKind())
	require.Equal(t, callerTrace.TraceID(), create.SpanContext().TraceID(), "the request continues the caller's trace")
	require.Equal(t, callerTrace.SpanID(), create.Parent().SpanID())

	run := only(t, spans, "run quick")
	require.Equal(t, create.SpanContext().SpanID(), run.Parent().SpanID(), "the run is the create's child")
	require.Equal(t, create.SpanContext().TraceID(), run.SpanContext().TraceID())

	for _, name := range []string{"report TASK_STARTED", "report TASK_PROGRESS", "report TASK_COMPLETED"} {
		report := only(t, spans, name)
		require.Equal(t, run.SpanContext().SpanID(), report.Parent().SpanID(), "%s is the run's child", name)
		var appends int
		for _, s := range byName(spans, "store.append") {
			if s.Parent().SpanID() == report.SpanContext().SpanID() {
				appends++
			}
		}
		require.Equal(t, 1, appends, "%s appends once, in a child span", name)
	}
}

func byName(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func only(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	found := byName(spans, name)
	require.Len(t, found, 1, "one %q span", name)
	return found[0]
}
