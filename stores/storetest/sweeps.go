package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var expiryCases = []testCase{
	{name: "ExpireOverdueOnly", run: testExpireOverdueOnly},
	{name: "ExpireRespectsLimit", run: testExpireRespectsLimit},
	{name: "PendingHandOffsOrderAndLimit", run: testPendingHandOffsOrderAndLimit},
}

var receiptCases = []testCase{
	{name: "PruneHandedOffReceipts", run: testPruneHandedOffReceipts},
	{name: "PruneRespectsLimit", run: testPruneRespectsLimit},
}

var retentionCases = []testCase{
	{name: "DeleteEndedWhole", run: testDeleteEndedWhole},
	{name: "DeleteRespectsLimit", run: testDeleteRespectsLimit},
	{name: "DeleteNeverTouchesLive", run: testDeleteNeverTouchesLive},
	{name: "DeleteFreesClientRequestID", run: testDeleteFreesClientRequestID},
}

func (e *env) expire(now time.Time, limit int) int {
	e.t.Helper()
	n, err := e.s.ExpireSuspensions(e.ctx, now, limit)
	require.NoError(e.t, err)
	return n
}

func testExpireOverdueOnly(t *testing.T, e *env) {
	soon, later := e.base.Add(time.Minute), e.base.Add(2*time.Minute)
	a, sa := e.suspendedTask(soon)
	b, sb := e.suspendedTask(later)
	c, sc := e.suspendedTask(time.Time{})
	d, sd := e.suspendedTask(soon)
	e.accept(e.approve(d, sd, e.base))
	f, sf := e.suspendedTask(soon)
	e.add(f, taskbridge.EventFailed)

	require.Zero(t, e.expire(soon.Add(-time.Millisecond), 100), "nothing is overdue yet")
	require.Equal(t, 1, e.expire(soon, 100), "ExpiresAt at now is overdue")
	require.Equal(t, taskbridge.SuspensionExpired, e.suspensionOf(a, sa).State)
	require.Equal(t, taskbridge.SuspensionOpen, e.suspensionOf(b, sb).State)
	require.Zero(t, e.expire(soon, 100), "an expired suspension does not expire again")
	require.Equal(t, 1, e.expire(later.Add(time.Second), 100))
	require.Equal(t, taskbridge.SuspensionExpired, e.suspensionOf(b, sb).State)
	require.Zero(t, e.expire(e.base.AddDate(100, 0, 0), 100), "no ExpiresAt means never")

	require.Equal(t, taskbridge.SuspensionOpen, e.suspensionOf(c, sc).State)
	require.Equal(t, taskbridge.SuspensionResolved, e.suspensionOf(d, sd).State)
	require.Equal(t, taskbridge.SuspensionClosed, e.suspensionOf(f, sf).State)
	for id, last := range map[string]uint64{a: 2, b: 2, c: 2, d: 3, f: 3} {
		e.requireUnchanged(id, last) // expiry appends no event
	}

	pending, err := e.s.PendingHandOffs(e.ctx, 100)
	require.NoError(t, err)
	got := map[string]taskbridge.Suspension{}
	for _, s := range pending {
		got[s.SuspendID] = s
	}
	require.Len(t, got, 3, "the expired and the resolved suspensions wait for their hand-off")
	for _, sid := range []string{sa, sb} {
		require.Contains(t, got, sid)
		require.Equal(t, taskbridge.SuspensionExpired, got[sid].State)
		require.Nil(t, got[sid].Action, "an expiry hands off no action")
		require.False(t, got[sid].ResolvedAt.IsZero())
	}
	require.Contains(t, got, sd)
	require.NotNil(t, got[sd].Action)

	e.accept(e.approve(c, sc, e.base.AddDate(100, 0, 0)))
}

func testExpireRespectsLimit(t *testing.T, e *env) {
	expiresAt := e.base.Add(time.Minute)
	var all []string
	for range 5 {
		id, sid := e.suspendedTask(expiresAt)
		all = append(all, id+"/"+sid)
	}
	now := expiresAt.Add(time.Hour)
	require.Equal(t, 2, e.expire(now, 2))
	require.Len(t, e.pending(), 2)
	require.Equal(t, 2, e.expire(now, 2))
	require.Equal(t, 1, e.expire(now, 2))
	require.Zero(t, e.expire(now, 2))
	require.ElementsMatch(t, all, e.pending())
}

func testPendingHandOffsOrderAndLimit(t *testing.T, e *env) {
	// Three suspensions opened, and later resolved or expired, in the same
	// order, so that every reading of "oldest first" agrees.
	t1 := e.runningTask()
	sus := e.suspension(t1, time.Time{})
	sus.CreatedAt = e.base.Add(time.Second)
	_, err := e.suspendWith(sus)
	require.NoError(t, err)
	s1 := sus.SuspendID

	t2 := e.runningTask()
	sus = e.suspension(t2, e.base.Add(20*time.Second))
	sus.CreatedAt = e.base.Add(2 * time.Second)
	_, err = e.suspendWith(sus)
	require.NoError(t, err)
	s2 := sus.SuspendID

	t3 := e.runningTask()
	sus = e.suspension(t3, time.Time{})
	sus.CreatedAt = e.base.Add(3 * time.Second)
	_, err = e.suspendWith(sus)
	require.NoError(t, err)
	s3 := sus.SuspendID

	a1 := e.approve(t1, s1, e.base.Add(10*time.Second))
	e.accept(a1)
	require.Equal(t, 1, e.expire(e.base.Add(20*time.Second), 10))
	a3 := e.approve(t3, s3, e.base.Add(30*time.Second))
	e.accept(a3)

	p1, p2, p3 := t1+"/"+s1, t2+"/"+s2, t3+"/"+s3
	require.Equal(t, []string{p1, p2, p3}, e.pending(), "oldest first")
	some, err := e.s.PendingHandOffs(e.ctx, 2)
	require.NoError(t, err)
	require.Len(t, some, 2, "at most limit")
	require.Equal(t, s1, some[0].SuspendID)
	require.Equal(t, s2, some[1].SuspendID)
	requireReceipt(t, a1, 3, some[0].Action)
	require.Nil(t, some[1].Action)

	require.NoError(t, e.s.MarkHandedOff(e.ctx, t2, s2))
	require.Equal(t, []string{p1, p3}, e.pending())
	s := e.suspensionOf(t2, s2)
	require.True(t, s.HandedOff)
	require.Equal(t, taskbridge.SuspensionExpired, s.State)

	require.NoError(t, e.s.MarkHandedOff(e.ctx, t1, s1))
	require.NoError(t, e.s.MarkHandedOff(e.ctx, t3, s3))
	require.Empty(t, e.pending())
}

// handedOffReceipt accepts an action at now, hands it off and returns it.
func (e *env) handedOffReceipt(now time.Time) taskbridge.ActionRequest {
	e.t.Helper()
	id, sid := e.suspendedTask(time.Time{})
	a := e.approve(id, sid, now)
	e.accept(a)
	require.NoError(e.t, e.s.MarkHandedOff(e.ctx, id, sid))
	return a
}

func (e *env) prune(before time.Time, limit int) int {
	e.t.Helper()
	n, err := e.s.PruneReceipts(e.ctx, before, limit)
	require.NoError(e.t, err)
	return n
}

func testPruneHandedOffReceipts(t *testing.T, e *env) {
	id, sid := e.suspendedTask(time.Time{})
	a := e.approve(id, sid, e.base)
	e.accept(a)
	recent := e.handedOffReceipt(e.base.Add(time.Hour))

	require.Zero(t, e.prune(e.base.Add(time.Minute), 100), "a receipt whose hand-off is pending is kept")
	e.record(a, taskbridge.ActionDeduplicated)

	require.NoError(t, e.s.MarkHandedOff(e.ctx, id, sid))
	require.Zero(t, e.prune(e.base, 100), "only receipts received before the time")
	e.record(a, taskbridge.ActionDeduplicated)
	require.Equal(t, 1, e.prune(e.base.Add(time.Minute), 100))
	require.Zero(t, e.prune(e.base.Add(time.Minute), 100))

	out := e.record(a, taskbridge.ActionRejectedAlreadyResolved)
	require.Nil(t, out.Receipt, "a pruned receipt's repeat is judged afresh")
	require.Nil(t, out.Event)
	e.requireUnchanged(id, 3)
	require.Equal(t, taskbridge.SuspensionResolved, e.suspensionOf(id, sid).State)

	e.record(recent, taskbridge.ActionDeduplicated)
	require.Equal(t, 1, e.prune(e.base.Add(2*time.Hour), 100))
	e.record(recent, taskbridge.ActionRejectedAlreadyResolved)
}

func testPruneRespectsLimit(t *testing.T, e *env) {
	for i := range 3 {
		e.handedOffReceipt(e.base.Add(time.Duration(i) * time.Second))
	}
	before := e.base.Add(time.Minute)
	require.Equal(t, 2, e.prune(before, 2))
	require.Equal(t, 1, e.prune(before, 2))
	require.Zero(t, e.prune(before, 2))
}

func (e *env) deleteEnded(before time.Time, limit int) int {
	e.t.Helper()
	n, err := e.s.DeleteEndedBefore(e.ctx, before, limit)
	require.NoError(e.t, err)
	return n
}

// requireGone requires every trace of the task to be gone.
func (e *env) requireGone(taskID, suspendID string) {
	t := e.t
	t.Helper()
	_, err := e.s.GetTask(e.ctx, taskID)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = e.s.ReadAfter(e.ctx, taskID, 0, 10, 0)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = e.s.Append(e.ctx, taskID, appendOf(taskbridge.EventMessage, "ghost"))
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = e.s.RequestCancel(e.ctx, taskID, "ghost")
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = e.s.GetSuspension(e.ctx, taskID, suspendID)
	require.ErrorIs(t, err, taskbridge.ErrSuspensionNotFound)
	_, ok, err := e.s.OpenSuspensionOf(e.ctx, taskID)
	if err != nil {
		require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	}
	require.False(t, ok)
	_, err = e.s.RecordAction(e.ctx, e.approve(taskID, suspendID, e.base))
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	for _, p := range e.pending() {
		require.NotEqual(t, taskID+"/"+suspendID, p, "a removed task hands nothing off")
	}
}

func testDeleteEndedWhole(t *testing.T, e *env) {
	// An ended task with history, a resolved suspension whose hand-off is
	// still pending and a receipt.
	gone, sid := e.suspendedTask(time.Time{})
	e.accept(e.approve(gone, sid, e.base))
	e.add(gone, taskbridge.EventCompleted)
	live, liveSid := e.suspendedTask(time.Time{})
	endedAt := e.get(gone).EndedAt

	require.Zero(t, e.deleteEnded(endedAt.Add(-time.Hour), 100))
	require.Zero(t, e.deleteEnded(endedAt, 100), "only tasks that ended strictly before the time")
	e.get(gone)
	require.Equal(t, 1, e.deleteEnded(endedAt.Add(time.Millisecond), 100))
	e.requireGone(gone, sid)
	require.Zero(t, e.deleteEnded(endedAt.Add(time.Millisecond), 100))

	require.Len(t, e.events(live), 2)
	require.Equal(t, taskbridge.SuspensionOpen, e.suspensionOf(live, liveSid).State)
}

func testDeleteRespectsLimit(t *testing.T, e *env) {
	var ended []string
	for range 3 {
		id := e.runningTask()
		e.add(id, taskbridge.EventCompleted)
		ended = append(ended, id)
	}
	before := time.Now().Add(time.Hour)
	require.Equal(t, 2, e.deleteEnded(before, 2))
	require.Equal(t, 1, e.deleteEnded(before, 2))
	require.Zero(t, e.deleteEnded(before, 2))
	for _, id := range ended {
		_, err := e.s.GetTask(e.ctx, id)
		require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	}
}

func testDeleteNeverTouchesLive(t *testing.T, e *env) {
	old := e.newTaskSpec()
	old.CreatedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	accepted := e.create(old).ID
	running := e.runningTask()
	cancelling := e.runningTask()
	_, err := e.s.RequestCancel(e.ctx, cancelling, "stop")
	require.NoError(t, err)
	suspended, sid := e.suspendedTask(e.base.Add(time.Minute))

	require.Zero(t, e.deleteEnded(time.Now().AddDate(100, 0, 0), 100), "a live task is never removed")
	for _, id := range []string{accepted, running, cancelling, suspended} {
		require.False(t, e.get(id).Status.IsTerminal())
	}
	require.Equal(t, taskbridge.SuspensionOpen, e.suspensionOf(suspended, sid).State)
	require.Len(t, e.events(running), 1)
}

func testDeleteFreesClientRequestID(t *testing.T, e *env) {
	spec := e.newTaskSpec()
	e.create(spec)
	e.add(spec.ID, taskbridge.EventCancelled)
	require.Equal(t, 1, e.deleteEnded(time.Now().Add(time.Hour), 100))

	reused := spec
	reused.ID = e.id("task")
	reused.Input = []byte(`{"n":2}`)
	reused.Fingerprint = spec.Fingerprint + "-new"
	task, created, err := e.s.CreateTask(e.ctx, reused)
	require.NoError(t, err)
	require.True(t, created, "the key of a removed task makes a new task")
	requireNewTask(t, reused, task)
	require.Equal(t, taskbridge.StatusAccepted, task.Status)
	require.Zero(t, task.LastEventID)
	_, err = e.s.GetTask(e.ctx, spec.ID)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
}
