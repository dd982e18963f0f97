package temporal

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// BenchmarkReportsOfOneWorkflow measures how many events one task's
// workflow reports a second on a real Temporal server, into the memory
// store. "adapter" is what the adapter does: Run.Message, one local
// activity per report. For comparison, the benchmark's own activity
// reports batch messages per regular activity ("activity/batch=N"). It
// needs TASKBRIDGE_TEST_TEMPORAL_ADDRESS (and _NAMESPACE); without it it is
// skipped.
//
//	go test -run '^$' -bench ReportsOfOneWorkflow -benchtime 2000x ./adapters/temporal
func BenchmarkReportsOfOneWorkflow(b *testing.B) {
	addr := os.Getenv("TASKBRIDGE_TEST_TEMPORAL_ADDRESS")
	if addr == "" {
		b.Skip("TASKBRIDGE_TEST_TEMPORAL_ADDRESS is unset: no Temporal server to measure")
	}
	ns := os.Getenv("TASKBRIDGE_TEST_TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: ns, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("adapter", func(b *testing.B) { benchReports(b, c, 0) })
	for _, batch := range []int{1, 10, 100} {
		b.Run("activity/batch="+strconv.Itoa(batch), func(b *testing.B) { benchReports(b, c, batch) })
	}
}

// benchReports runs one task whose workflow reports b.N messages, through
// Run.Message when batch is 0, else batch per regular activity, and
// reports events/s.
func benchReports(b *testing.B, c client.Client, batch int) {
	store := memory.New()
	rep, err := services.NewReporter(services.ReporterConfig{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	n := b.N
	reportBatch = func(ctx context.Context, taskID string, from, count int) error {
		for i := from; i < from+count; i++ {
			key := fmt.Sprintf("%s/m%d", activity.GetInfo(ctx).WorkflowExecution.ID, i)
			if err := rep.Message(taskbridge.WithReportKey(ctx, key), taskID, taskbridge.Message{Text: "m" + strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		return nil
	}
	messages := TaskType{Name: "messages", Run: func(ctx workflow.Context, run Run) (json.RawMessage, error) {
		if batch == 0 {
			for i := range n {
				if err := run.Message(ctx, taskbridge.Message{Text: "m" + strconv.Itoa(i)}); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		for i := 0; i < n; i += batch {
			count := min(batch, n-i)
			if err := workflow.ExecuteActivity(actx, "bench.messages", run.Task().ID, i, count).Get(ctx, nil); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}}
	cfg := Config{Client: c, TaskQueue: "taskbridge-bench-" + rand.Text(), Types: []TaskType{messages}, Reporter: rep, Suspensions: store}
	ex, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	w := worker.New(c, cfg.TaskQueue, worker.Options{})
	cfg.Register(w, &Activities{Reporter: rep, Suspensions: store})
	w.RegisterActivityWithOptions(reportBatch, activity.RegisterOptions{Name: "bench.messages"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()

	id := rand.Text()
	task, _, err := store.CreateTask(context.Background(), taskbridge.NewTask{ID: id, Owner: "bench", ClientRequestID: id, Type: "messages",
		Input: json.RawMessage("null"), Metadata: json.RawMessage("null"), Fingerprint: id, CreatedAt: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := ex.Submit(context.Background(), task); err != nil {
		b.Fatal(err)
	}
	var wf workflowResult
	if err := c.GetWorkflow(context.Background(), WorkflowID(id), "").Get(context.Background(), &wf); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	t, err := store.GetTask(context.Background(), id)
	if err != nil || t.Status != taskbridge.StatusCompleted || t.LastEventID != uint64(n)+2 {
		b.Fatalf("the task ended %s with %d events (err %v); want COMPLETED with %d", t.Status, t.LastEventID, err, n+2)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
}

// reportBatch reports count messages from the from-th, keyed by the
// workflow's id and their number; benchReports sets it to its reporter.
var reportBatch func(ctx context.Context, taskID string, from, count int) error

// workflowResult takes whatever the task workflow returns.
type workflowResult = json.RawMessage
