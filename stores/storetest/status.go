package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var statusCases = []testCase{
	{name: "StatusMovesWithAppends", run: testStatusMovesWithAppends},
	{name: "StatusInvalidTransition", run: testStatusInvalidTransition},
	{name: "AppendAfterEnd", run: testAppendAfterEnd},
	{name: "EndStraightFromAccepted", run: testEndStraightFromAccepted},
	{name: "ConcurrentEndsOneWins", run: testConcurrentEndsOneWins, alone: true},
}

var cancelCases = []testCase{
	{name: "CancelKeepsFirstReason", run: testCancelKeepsFirstReason},
	{name: "CancelAllowsOnlyCancelledEnd", run: testCancelAllowsOnlyCancelledEnd},
	{name: "CancelEndedTask", run: testCancelEndedTask},
	{name: "CancelUnknownTask", run: testCancelUnknownTask},
}

func testStatusMovesWithAppends(t *testing.T, e *env) {
	id := e.newTask()
	step := func(a taskbridge.Append, want taskbridge.TaskStatus) {
		t.Helper()
		ev, err := e.s.Append(e.ctx, id, a)
		require.NoError(t, err)
		task := e.get(id)
		require.Equal(t, want, task.Status)
		require.Equal(t, ev.ID, task.LastEventID)
	}
	step(taskbridge.Append{Type: taskbridge.EventProgress, Payload: payloadOf(taskbridge.EventProgress, "queued")}, taskbridge.StatusAccepted)
	step(appendOf(taskbridge.EventStarted, "go"), taskbridge.StatusRunning)
	step(appendOf(taskbridge.EventProgress, "half"), taskbridge.StatusRunning)
	step(taskbridge.Append{Type: taskbridge.EventMessage, Payload: payloadOf(taskbridge.EventMessage, "same"), Status: taskbridge.StatusRunning}, taskbridge.StatusRunning)
	step(appendOf(taskbridge.EventCompleted, "done"), taskbridge.StatusCompleted)
	require.False(t, e.get(id).EndedAt.IsZero())
}

func testStatusInvalidTransition(t *testing.T, e *env) {
	id := e.runningTask()
	e.message(id)
	_, err := e.s.Append(e.ctx, id, taskbridge.Append{Type: taskbridge.EventMessage, Payload: payloadOf(taskbridge.EventMessage, "back"), Status: taskbridge.StatusAccepted})
	require.ErrorIs(t, err, taskbridge.ErrInvalidTransition)
	e.requireUnchanged(id, 2)
	task := e.get(id)
	require.Equal(t, taskbridge.StatusRunning, task.Status)
	require.True(t, task.EndedAt.IsZero())
	require.Equal(t, uint64(3), e.message(id).ID, "a refused append takes no id")
}

func testAppendAfterEnd(t *testing.T, e *env) {
	for _, end := range []taskbridge.EventType{taskbridge.EventCompleted, taskbridge.EventFailed, taskbridge.EventCancelled} {
		id := e.runningTask()
		last := e.add(id, end)
		task := e.get(id)
		require.Equal(t, statusOf(end), task.Status)
		require.False(t, task.EndedAt.IsZero())

		sus := e.suspension(id, e.base)
		for _, a := range []taskbridge.Append{
			{Type: taskbridge.EventMessage, Payload: payloadOf(taskbridge.EventMessage, "late")},
			appendOf(taskbridge.EventProgress, "late"),
			appendOf(taskbridge.EventStarted, "again"),
			appendOf(taskbridge.EventCompleted, "again"),
			appendOf(taskbridge.EventFailed, "again"),
			appendOf(taskbridge.EventCancelled, "again"),
			{Type: taskbridge.EventSuspended, Payload: sus.Payload, Suspension: &sus},
		} {
			_, err := e.s.Append(e.ctx, id, a)
			require.ErrorIs(t, err, taskbridge.ErrTaskEnded, "%s after %s", a.Type, end)
		}
		e.requireUnchanged(id, last.ID)
		after := e.get(id)
		require.Equal(t, statusOf(end), after.Status)
		requireTime(t, task.EndedAt, after.EndedAt, "EndedAt")
	}
}

func testEndStraightFromAccepted(t *testing.T, e *env) {
	for _, end := range []taskbridge.EventType{taskbridge.EventCancelled, taskbridge.EventFailed} {
		id := e.newTask()
		ev := e.add(id, end)
		require.Equal(t, uint64(1), ev.ID)
		task := e.get(id)
		require.Equal(t, statusOf(end), task.Status, "ACCEPTED may end without starting")
		require.False(t, task.EndedAt.IsZero())
	}
}

func testConcurrentEndsOneWins(t *testing.T, e *env) {
	const n = 20
	id := e.runningTask()
	errs := make([]error, n)
	ends := make([]taskbridge.EventType, n)
	parallel(n, func(i int) {
		ends[i] = taskbridge.EventCompleted
		if i%2 == 1 {
			ends[i] = taskbridge.EventFailed
		}
		_, errs[i] = e.s.Append(e.ctx, id, appendOf(ends[i], "race"))
	})
	var winner taskbridge.EventType
	for i, err := range errs {
		if err == nil {
			require.Empty(t, winner, "only one terminal event may be appended")
			winner = ends[i]
			continue
		}
		require.ErrorIs(t, err, taskbridge.ErrTaskEnded)
	}
	require.NotEmpty(t, winner, "one terminal event must be appended")
	events := e.events(id)
	require.Len(t, events, 2)
	require.Equal(t, winner, events[1].Type)
	require.Equal(t, statusOf(winner), e.get(id).Status)
}

func testCancelKeepsFirstReason(t *testing.T, e *env) {
	for _, id := range []string{e.newTask(), e.runningTask()} {
		before := e.get(id)
		task, err := e.s.RequestCancel(e.ctx, id, "first reason")
		require.NoError(t, err)
		require.True(t, task.CancelRequested)
		require.Equal(t, "first reason", task.CancelReason)
		require.Equal(t, before.Status, task.Status, "a cancel request does not move the status")

		task, err = e.s.RequestCancel(e.ctx, id, "second reason")
		require.NoError(t, err)
		require.True(t, task.CancelRequested)
		require.Equal(t, "first reason", task.CancelReason, "repeats change nothing")

		task = e.get(id)
		require.True(t, task.CancelRequested)
		require.Equal(t, "first reason", task.CancelReason)
		require.Equal(t, before.Status, task.Status)
		require.True(t, task.EndedAt.IsZero())
		e.requireUnchanged(id, before.LastEventID)
	}
}

func testCancelAllowsOnlyCancelledEnd(t *testing.T, e *env) {
	id := e.runningTask()
	_, err := e.s.RequestCancel(e.ctx, id, "stop")
	require.NoError(t, err)

	e.message(id)
	e.add(id, taskbridge.EventProgress)
	_, err = e.s.Append(e.ctx, id, appendOf(taskbridge.EventCompleted, "too late"))
	require.ErrorIs(t, err, taskbridge.ErrCancelRequested)
	_, err = e.s.Append(e.ctx, id, appendOf(taskbridge.EventFailed, "too late"))
	require.ErrorIs(t, err, taskbridge.ErrCancelRequested)
	e.requireUnchanged(id, 3)
	require.Equal(t, taskbridge.StatusRunning, e.get(id).Status)

	ev := e.add(id, taskbridge.EventCancelled)
	require.Equal(t, uint64(4), ev.ID)
	task := e.get(id)
	require.Equal(t, taskbridge.StatusCancelled, task.Status)
	require.False(t, task.EndedAt.IsZero())
	require.Equal(t, "stop", task.CancelReason)

	queued := e.newTask()
	_, err = e.s.RequestCancel(e.ctx, queued, "before start")
	require.NoError(t, err)
	require.Equal(t, uint64(1), e.add(queued, taskbridge.EventCancelled).ID)
	require.Equal(t, taskbridge.StatusCancelled, e.get(queued).Status)
}

func testCancelEndedTask(t *testing.T, e *env) {
	id := e.runningTask()
	e.add(id, taskbridge.EventCompleted)
	before := e.get(id)
	task, err := e.s.RequestCancel(e.ctx, id, "late")
	require.NoError(t, err)
	for _, got := range []taskbridge.Task{task, e.get(id)} {
		require.Equal(t, taskbridge.StatusCompleted, got.Status)
		require.False(t, got.CancelRequested, "an ended task is returned unchanged")
		require.Empty(t, got.CancelReason)
		require.Equal(t, before.LastEventID, got.LastEventID)
		requireTime(t, before.EndedAt, got.EndedAt, "EndedAt")
	}
}

func testCancelUnknownTask(t *testing.T, e *env) {
	_, err := e.s.RequestCancel(e.ctx, e.id("missing"), "stop")
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
}
