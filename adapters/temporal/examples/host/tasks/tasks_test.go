package tasks

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.uber.org/goleak"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/temporal"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wf is one task run by the SDK's test workflow environment, with the
// adapter's real activities over a memory store and the real Reporter.
type wf struct {
	env   *testsuite.TestWorkflowEnvironment
	store *memory.Store
	task  taskbridge.Task
	start time.Time
}

func newWF(t *testing.T, taskType, input string) *wf {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	store := memory.New()
	rep, err := services.NewReporter(services.ReporterConfig{Store: store, RetryFor: -1})
	require.NoError(t, err)
	temporal.Config{Types: Types()}.Register(env, &temporal.Activities{Reporter: rep, Suspensions: store, Clock: env.Now})
	task, _, err := store.CreateTask(t.Context(), taskbridge.NewTask{
		ID: "t1", Owner: "alice", ClientRequestID: "r1", Type: taskType, Input: json.RawMessage(input),
		Metadata: json.RawMessage("null"), Fingerprint: "fp", CreatedAt: env.Now(),
	})
	require.NoError(t, err)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: temporal.WorkflowID(task.ID)})
	return &wf{env: env, store: store, task: task, start: env.Now()}
}

// execute runs the workflow to its end.
func (w *wf) execute(t *testing.T) error {
	t.Helper()
	w.env.ExecuteWorkflow(temporal.WorkflowName, temporal.TaskInfo{ID: w.task.ID, Type: w.task.Type, Owner: w.task.Owner,
		Input: w.task.Input, Metadata: w.task.Metadata, CreatedAt: w.task.CreatedAt})
	require.True(t, w.env.IsWorkflowCompleted())
	return w.env.GetWorkflowError()
}

// history is the task's events: their types and payloads.
func (w *wf) history(t *testing.T) ([]taskbridge.EventType, []map[string]any) {
	t.Helper()
	evs, err := w.store.ReadAfter(context.Background(), w.task.ID, 0, 1000, 0)
	require.NoError(t, err)
	var types []taskbridge.EventType
	var payloads []map[string]any
	for _, e := range evs {
		var p map[string]any
		require.NoError(t, json.Unmarshal(e.Payload, &p))
		types = append(types, e.Type)
		payloads = append(payloads, p)
	}
	return types, payloads
}

func script(steps ...string) string {
	return `{"steps":[` + strings.Join(steps, ",") + `]}`
}

func TestEcho(t *testing.T) {
	t.Parallel()
	for input, want := range map[string]string{`{"b":[1,2.5],"a":"x"}`: `{"a":"x","b":[1,2.5]}`, `null`: `null`} {
		w := newWF(t, "echo", input)
		require.NoError(t, w.execute(t))
		types, payloads := w.history(t)
		require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventCompleted}, types, input)
		got, err := json.Marshal(payloads[1]["result"])
		require.NoError(t, err)
		require.JSONEq(t, want, string(got), input)
	}
}

func TestScriptedEveryStep(t *testing.T) {
	t.Parallel()
	w := newWF(t, "scripted", script(
		`{"sleepMs": 1500}`,
		`{"progress": {"progress": 12.5, "stage": "warm", "message": "going"}}`,
		`{"message": {"message": "hello", "level": "warning"}}`,
		`{"ticks": {"count": 3, "intervalMs": 1000, "payloadBytes": 12}}`,
		`{"ticks": {"count": 2}}`,
		`{"suspend": {"kind": "EXTERNAL_CONFIRMATION_PENDING", "reasonCode": "CONFIRM", "allowedActions": ["yes", "no"],
			"interaction": {"q": "ok?", "a": 1}, "uiHints": {"color": "red"}, "expiresInMs": 60000}}`,
		`{"complete": {"result": {"x": [1, 2.5, "three"]}}}`,
	))
	var suspendedAt time.Time
	w.env.RegisterDelayedCallback(func() {
		types, payloads := w.history(t)
		require.Equal(t, taskbridge.EventSuspended, types[len(types)-1])
		s := payloads[len(payloads)-1]
		require.Equal(t, "EXTERNAL_CONFIRMATION_PENDING", s["kind"])
		require.Equal(t, map[string]any{"q": "ok?", "a": float64(1)}, s["interaction"])
		require.Equal(t, map[string]any{"color": "red"}, s["uiHints"])
		suspendedAt = w.env.Now()
		id := s["suspendId"].(string)
		w.env.SignalWorkflow(temporal.SignalResume, taskbridge.Resume{TaskID: w.task.ID, SuspendID: id, Action: accept(t, w.store, w.task.ID, id, "yes", w.env.Now())})
	}, 10*time.Second)
	require.NoError(t, w.execute(t))

	types, payloads := w.history(t)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventProgress, taskbridge.EventMessage,
		taskbridge.EventMessage, taskbridge.EventMessage, taskbridge.EventMessage, taskbridge.EventMessage, taskbridge.EventMessage,
		taskbridge.EventSuspended, taskbridge.EventActionAccepted, taskbridge.EventCompleted}, types)
	require.Equal(t, 12.5, payloads[1]["progress"])
	require.Equal(t, "warm", payloads[1]["stage"])
	require.Equal(t, "hello", payloads[2]["message"])
	require.Equal(t, "warning", payloads[2]["level"])
	require.Equal(t, []any{"tick 1/3....", "tick 2/3....", "tick 3/3....", "tick 1/2", "tick 2/2"},
		[]any{payloads[3]["message"], payloads[4]["message"], payloads[5]["message"], payloads[6]["message"], payloads[7]["message"]})
	require.Equal(t, map[string]any{"x": []any{1.0, 2.5, "three"}}, payloads[10]["result"])

	// The sleep and the ticks' pace are workflow timers: 1.5 s, then the
	// ticks at 0, 1 and 2 s.
	expires, err := time.Parse(time.RFC3339Nano, payloads[8]["expiresAt"].(string))
	require.NoError(t, err)
	require.False(t, suspendedAt.IsZero())
	require.WithinDuration(t, w.start.Add(3500*time.Millisecond+time.Minute), expires, time.Second)
}

func TestScriptedFails(t *testing.T) {
	t.Parallel()
	w := newWF(t, "scripted", script(`{"message": {"message": "m"}}`, `{"fail": {"code": "QUOTA", "message": "spent", "retryable": true}}`))
	require.NoError(t, w.execute(t))
	types, payloads := w.history(t)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventMessage, taskbridge.EventFailed}, types)
	require.Equal(t, "QUOTA", payloads[2]["code"])
	require.Equal(t, "spent", payloads[2]["message"])
	require.Equal(t, true, payloads[2]["retryable"])
}

func TestScriptedWithoutTerminalStepCompletesWithNull(t *testing.T) {
	t.Parallel()
	w := newWF(t, "scripted", script())
	require.NoError(t, w.execute(t))
	types, payloads := w.history(t)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventCompleted}, types)
	require.Nil(t, payloads[1]["result"])
}

func TestScriptedSuspensionExpires(t *testing.T) {
	t.Parallel()
	w := newWF(t, "scripted", script(`{"suspend": {"reasonCode": "APPROVAL", "allowedActions": ["approve"], "expiresInMs": 5000}}`, `{"complete": {}}`))
	require.NoError(t, w.execute(t))
	types, payloads := w.history(t)
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventSuspended, taskbridge.EventFailed}, types)
	require.Equal(t, "USER_ACTION_REQUIRED", payloads[1]["kind"])
	require.Equal(t, "SUSPENSION_EXPIRED", payloads[2]["code"])
	require.WithinDuration(t, w.start.Add(5*time.Second), w.env.Now(), time.Second, "the expiry is a workflow timer")
}

func TestScriptedCancelledWhileTicking(t *testing.T) {
	t.Parallel()
	w := newWF(t, "scripted", script(`{"ticks": {"count": 100, "intervalMs": 1000}}`))
	w.env.RegisterDelayedCallback(w.env.CancelWorkflow, 10500*time.Millisecond)
	require.Error(t, w.execute(t), "the workflow ends cancelled")
	types, _ := w.history(t)
	require.Len(t, types, 13, "TASK_STARTED, 11 ticks, TASK_CANCELLED: %v", types)
	require.Equal(t, taskbridge.EventCancelled, types[12])
}

// accept records an accepted action on the task's suspension, as the
// actions service does before it resumes the task.
func accept(t *testing.T, store taskbridge.ActionReceiptStore, taskID, suspendID, actionType string, now time.Time) *taskbridge.ActionReceipt {
	t.Helper()
	accepted, err := json.Marshal(map[string]any{"suspendId": suspendID, "actionType": actionType, "clientActionId": "a1"})
	require.NoError(t, err)
	out, err := store.RecordAction(context.Background(), taskbridge.ActionRequest{
		TaskID: taskID, ClientActionID: "a1", SuspendID: suspendID, ActionType: actionType,
		Payload: json.RawMessage(`{}`), Metadata: json.RawMessage("null"), Fingerprint: "fp", Now: now, AcceptedEvent: accepted,
	})
	require.NoError(t, err)
	require.Equal(t, taskbridge.ActionAccepted, out.Status)
	return out.Receipt
}
