package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var suspensionCases = []testCase{
	{name: "SuspensionOpens", run: testSuspensionOpens},
	{name: "SuspensionDuplicateID", run: testSuspensionDuplicateID},
	{name: "SuspensionUnknown", run: testSuspensionUnknown},
	{name: "EndClosesOpenSuspension", run: testEndClosesOpenSuspension},
	{name: "EndKeepsResolvedSuspension", run: testEndKeepsResolvedSuspension},
}

func testSuspensionOpens(t *testing.T, e *env) {
	for _, expiresAt := range []time.Time{e.base.Add(time.Hour), {}} {
		id := e.runningTask()
		want := e.suspension(id, expiresAt)
		in := want
		in.State = "" // the store records it as open whatever the caller says
		ev, err := e.suspendWith(in)
		require.NoError(t, err)
		require.Equal(t, taskbridge.EventSuspended, ev.Type)
		require.Equal(t, uint64(2), ev.ID)
		require.JSONEq(t, string(want.Payload), string(ev.Payload))

		got := e.suspensionOf(id, want.SuspendID)
		open, ok, err := e.s.OpenSuspensionOf(e.ctx, id)
		require.NoError(t, err)
		require.True(t, ok, "the suspension is the task's open one")
		for _, s := range []taskbridge.Suspension{got, open} {
			require.Equal(t, id, s.TaskID)
			require.Equal(t, want.SuspendID, s.SuspendID)
			require.Equal(t, want.AllowedActions, s.AllowedActions)
			requireTime(t, want.ExpiresAt, s.ExpiresAt, "ExpiresAt")
			require.JSONEq(t, string(want.Payload), string(s.Payload))
			requireTime(t, want.CreatedAt, s.CreatedAt, "CreatedAt")
			require.Equal(t, taskbridge.SuspensionOpen, s.State)
			require.True(t, s.ResolvedAt.IsZero())
			require.Nil(t, s.Action)
			require.False(t, s.HandedOff)
		}
		require.Equal(t, taskbridge.StatusRunning, e.get(id).Status, "a suspended task is RUNNING")
	}
	require.Empty(t, e.pending(), "an open suspension has nothing to hand off")
}

func testSuspensionDuplicateID(t *testing.T, e *env) {
	id := e.runningTask()
	first := e.suspension(id, time.Time{})
	_, err := e.suspendWith(first)
	require.NoError(t, err)

	again := e.suspension(id, e.base.Add(time.Hour))
	again.SuspendID = first.SuspendID
	_, err = e.suspendWith(again)
	require.ErrorIs(t, err, taskbridge.ErrSuspensionExists)
	e.requireUnchanged(id, 2)
	requireTime(t, time.Time{}, e.suspensionOf(id, first.SuspendID).ExpiresAt, "the first suspension is kept")

	e.accept(e.approve(id, first.SuspendID, e.base))
	_, err = e.suspendWith(again)
	require.ErrorIs(t, err, taskbridge.ErrSuspensionExists, "a resolved suspension's id is still taken")
	e.requireUnchanged(id, 3)

	other := e.runningTask()
	elsewhere := e.suspension(other, time.Time{})
	elsewhere.SuspendID = first.SuspendID
	_, err = e.suspendWith(elsewhere)
	require.NoError(t, err, "a SuspendID is unique within its task only")
}

func testSuspensionUnknown(t *testing.T, e *env) {
	id, _ := e.suspendedTask(time.Time{})
	_, err := e.s.GetSuspension(e.ctx, id, e.id("missing"))
	require.ErrorIs(t, err, taskbridge.ErrSuspensionNotFound)
	_, err = e.s.GetSuspension(e.ctx, e.id("missing"), e.id("missing"))
	require.ErrorIs(t, err, taskbridge.ErrSuspensionNotFound)

	_, ok, err := e.s.OpenSuspensionOf(e.ctx, e.runningTask())
	require.NoError(t, err)
	require.False(t, ok, "a task that never suspended has no open suspension")
}

func testEndClosesOpenSuspension(t *testing.T, e *env) {
	for _, end := range []taskbridge.EventType{taskbridge.EventCancelled, taskbridge.EventFailed, taskbridge.EventCompleted} {
		id, sid := e.suspendedTask(e.base.Add(time.Minute))
		if end == taskbridge.EventCancelled {
			_, err := e.s.RequestCancel(e.ctx, id, "stop")
			require.NoError(t, err)
		}
		e.add(id, end)

		s := e.suspensionOf(id, sid)
		require.Equal(t, taskbridge.SuspensionClosed, s.State, "%s closes the open suspension", end)
		require.Nil(t, s.Action)
		_, ok, err := e.s.OpenSuspensionOf(e.ctx, id)
		require.NoError(t, err)
		require.False(t, ok, "an ended task has no open suspension")
	}
	require.Empty(t, e.pending(), "a closed suspension has nothing to hand off")
	n, err := e.s.ExpireSuspensions(e.ctx, e.base.Add(24*time.Hour), 100)
	require.NoError(t, err)
	require.Zero(t, n, "a closed suspension never expires")
	require.Empty(t, e.pending())
}

func testEndKeepsResolvedSuspension(t *testing.T, e *env) {
	id, sid := e.suspendedTask(time.Time{})
	a := e.approve(id, sid, e.base)
	e.accept(a)
	e.add(id, taskbridge.EventCompleted)

	s := e.suspensionOf(id, sid)
	require.Equal(t, taskbridge.SuspensionResolved, s.State, "only an open suspension is closed by the end")
	require.NotNil(t, s.Action)
	require.Equal(t, a.ClientActionID, s.Action.ClientActionID)
	require.Equal(t, []string{id + "/" + sid}, e.pending(), "its hand-off is still pending")
}
