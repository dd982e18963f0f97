package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// call is one report the recorder saw.
type call struct {
	Method, Key string
}

// recorder is a Reporter that records each report's method and key, then
// makes it through the real Reporter. failOnce makes the first call with
// a key fail after the report was made, as when an activity's answer is
// lost, so that the activity is retried.
type recorder struct {
	taskbridge.Reporter
	failOnce bool

	mu     sync.Mutex
	calls  []call
	failed map[string]bool
}

func (r *recorder) record(ctx context.Context, method string, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := taskbridge.ReportKey(ctx)
	r.calls = append(r.calls, call{method, key})
	if err == nil && r.failOnce && !r.failed[key] {
		if r.failed == nil {
			r.failed = map[string]bool{}
		}
		r.failed[key] = true
		return errors.New("the answer was lost")
	}
	return err
}

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func (r *recorder) Start(ctx context.Context, id, msg string) error {
	return r.record(ctx, "Start", r.Reporter.Start(ctx, id, msg))
}
func (r *recorder) Progress(ctx context.Context, id string, p taskbridge.Progress) error {
	return r.record(ctx, "Progress", r.Reporter.Progress(ctx, id, p))
}
func (r *recorder) Message(ctx context.Context, id string, m taskbridge.Message) error {
	return r.record(ctx, "Message", r.Reporter.Message(ctx, id, m))
}
func (r *recorder) Suspend(ctx context.Context, id string, s taskbridge.SuspendRequest) (taskbridge.Suspension, error) {
	out, err := r.Reporter.Suspend(ctx, id, s)
	return out, r.record(ctx, "Suspend", err)
}
func (r *recorder) Complete(ctx context.Context, id string, result json.RawMessage) error {
	return r.record(ctx, "Complete", r.Reporter.Complete(ctx, id, result))
}
func (r *recorder) Fail(ctx context.Context, id string, f taskbridge.Failure) error {
	return r.record(ctx, "Fail", r.Reporter.Fail(ctx, id, f))
}
func (r *recorder) Cancelled(ctx context.Context, id string) error {
	return r.record(ctx, "Cancelled", r.Reporter.Cancelled(ctx, id))
}

// newStore is a memory store and the real Reporter over it, wrapped in a
// recorder.
func newStore(t *testing.T) (*memory.Store, *recorder) {
	t.Helper()
	store := memory.New()
	rep, err := services.NewReporter(services.ReporterConfig{Store: store, RetryFor: -1})
	require.NoError(t, err)
	return store, &recorder{Reporter: rep}
}

// createTask creates a task of taskType with input in store.
func createTask(t *testing.T, store taskbridge.Store, id, taskType, input string) taskbridge.Task {
	t.Helper()
	task, _, err := store.CreateTask(t.Context(), taskbridge.NewTask{
		ID: id, Owner: "alice", ClientRequestID: "req-" + id, Type: taskType,
		Input: json.RawMessage(input), Metadata: json.RawMessage("null"), Fingerprint: "fp-" + id, CreatedAt: time.Now(),
	})
	require.NoError(t, err)
	return task
}

// events returns the task's history as types and payloads.
func events(t *testing.T, store taskbridge.EventStore, id string) ([]taskbridge.EventType, []json.RawMessage) {
	t.Helper()
	evs, err := store.ReadAfter(context.Background(), id, 0, 100, 0)
	require.NoError(t, err)
	var types []taskbridge.EventType
	var payloads []json.RawMessage
	for _, e := range evs {
		types = append(types, e.Type)
		payloads = append(payloads, e.Payload)
	}
	return types, payloads
}

// field decodes one field of a JSON object.
func field(t *testing.T, payload json.RawMessage, name string) any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload, &m))
	return m[name]
}

// accept records an accepted action on the task's suspension, as the
// actions service does.
func accept(t *testing.T, store taskbridge.ActionReceiptStore, taskID, suspendID, actionType string, now time.Time) *taskbridge.ActionReceipt {
	t.Helper()
	accepted, err := json.Marshal(map[string]any{"suspendId": suspendID, "actionType": actionType, "clientActionId": "a-" + suspendID})
	require.NoError(t, err)
	out, err := store.RecordAction(context.Background(), taskbridge.ActionRequest{
		TaskID: taskID, ClientActionID: "a-" + suspendID, SuspendID: suspendID, ActionType: actionType,
		Payload: json.RawMessage(`{"ok":true}`), Metadata: json.RawMessage("null"), Fingerprint: "fp",
		Now: now, AcceptedEvent: accepted,
	})
	require.NoError(t, err)
	require.Equal(t, taskbridge.ActionAccepted, out.Status)
	return out.Receipt
}
