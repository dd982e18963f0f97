package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var keptCases = []testCase{
	{name: "TaskKeepsLatestProgress", run: testTaskKeepsLatestProgress},
	{name: "TaskKeepsItsOutcome", run: testTaskKeepsItsOutcome},
	{name: "RefusedAppendKeepsNothing", run: testRefusedAppendKeepsNothing},
	{name: "KeptIsNotAliased", run: testKeptIsNotAliased},
}

// requireKept requires the task's record to keep progress and outcome
// (nil: none).
func (e *env) requireKept(taskID string, progress, outcome json.RawMessage, what string) {
	e.t.Helper()
	task := e.get(taskID)
	requireRaw(e.t, progress, task.Progress, what+": Progress")
	requireRaw(e.t, outcome, task.Outcome, what+": Outcome")
}

// requireRaw requires got to be the JSON want is, or nil when want is.
func requireRaw(t *testing.T, want, got json.RawMessage, what string) {
	t.Helper()
	if want == nil {
		require.Nil(t, got, what)
		return
	}
	require.JSONEq(t, string(want), string(got), what)
}

// keep appends a and returns its payload.
func (e *env) keep(taskID string, a taskbridge.Append) json.RawMessage {
	e.t.Helper()
	_, err := e.s.Append(e.ctx, taskID, a)
	require.NoError(e.t, err, "append %s", a.Type)
	return a.Payload
}

func testTaskKeepsLatestProgress(t *testing.T, e *env) {
	id := e.newTask()
	e.requireKept(id, nil, nil, "a new task")
	queued := e.keep(id, appendOf(taskbridge.EventProgress, "queued"))
	e.requireKept(id, queued, nil, "progress before the start")
	e.start(id)
	e.requireKept(id, queued, nil, "TASK_STARTED leaves the progress")

	half := e.keep(id, taskbridge.Append{Type: taskbridge.EventProgress, Payload: json.RawMessage(`{"progress":42.5,"stage":"half","message":"m"}`)})
	e.message(id)
	e.requireKept(id, half, nil, "the newest TASK_PROGRESS; a message leaves it")

	sid := e.suspend(id, time.Time{})
	e.accept(e.approve(id, sid, e.base))
	e.requireKept(id, half, nil, "a suspension and an accepted action leave it")

	done := e.keep(id, appendOf(taskbridge.EventCompleted, "done"))
	e.requireKept(id, half, done, "the progress stays after the end")
}

func testTaskKeepsItsOutcome(t *testing.T, e *env) {
	for _, end := range []taskbridge.EventType{taskbridge.EventCompleted, taskbridge.EventFailed, taskbridge.EventCancelled} {
		id := e.runningTask()
		outcome := e.keep(id, appendOf(end, "end"))
		e.requireKept(id, nil, outcome, string(end))
	}
	id := e.newTask()
	cancelled := e.keep(id, appendOf(taskbridge.EventCancelled, "before the start"))
	e.requireKept(id, nil, cancelled, "a task cancelled before it started")

	id = e.runningTask()
	a := appendOf(taskbridge.EventCompleted, "once")
	a.Key = e.id("key")
	outcome := e.keep(id, a)
	a.Payload = payloadOf(taskbridge.EventCompleted, "retried")
	e.keep(id, a)
	e.requireKept(id, nil, outcome, "a retried append with the same Key")
}

func testRefusedAppendKeepsNothing(t *testing.T, e *env) {
	id := e.runningTask()
	progress := e.keep(id, appendOf(taskbridge.EventProgress, "p"))
	_, err := e.s.RequestCancel(e.ctx, id, "stop")
	require.NoError(t, err)
	_, err = e.s.Append(e.ctx, id, appendOf(taskbridge.EventCompleted, "refused"))
	require.ErrorIs(t, err, taskbridge.ErrCancelRequested)
	e.requireKept(id, progress, nil, "a refused end")

	cancelled := e.keep(id, appendOf(taskbridge.EventCancelled, "stop"))
	_, err = e.s.Append(e.ctx, id, appendOf(taskbridge.EventProgress, "late"))
	require.ErrorIs(t, err, taskbridge.ErrTaskEnded)
	e.requireKept(id, progress, cancelled, "a progress after the end")
}

// testKeptIsNotAliased checks that what a task keeps is neither the memory
// of the append's caller nor handed out for a caller to change.
func testKeptIsNotAliased(t *testing.T, e *env) {
	id := e.runningTask()
	progress := json.RawMessage(`{"progress":10,"stage":"own"}`)
	e.keep(id, taskbridge.Append{Type: taskbridge.EventProgress, Payload: progress})
	copy(progress, `{"progress":99,"stage":"new"}`)
	outcome := json.RawMessage(`{"result":"own"}`)
	e.keep(id, taskbridge.Append{Type: taskbridge.EventCompleted, Payload: outcome, Status: taskbridge.StatusCompleted})
	copy(outcome, `{"result":"new"}`)
	got := e.get(id)
	copy(got.Progress, `{"progress":98,"stage":"got"}`)
	copy(got.Outcome, `{"result":"got"}`)
	e.requireKept(id, json.RawMessage(`{"progress":10,"stage":"own"}`), json.RawMessage(`{"result":"own"}`), "after the callers changed their copies")
}
