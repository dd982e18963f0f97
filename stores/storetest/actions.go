package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var actionCases = []testCase{
	{name: "ActionAccepted", run: testActionAccepted},
	{name: "ActionDeduplicated", run: testActionDeduplicated},
	{name: "ActionIdempotencyConflict", run: testActionIdempotencyConflict},
	{name: "ActionAlreadyResolved", run: testActionAlreadyResolved},
	{name: "ActionNotAllowed", run: testActionNotAllowed},
	{name: "ActionUnknownSuspensionOrTask", run: testActionUnknownSuspensionOrTask},
	{name: "ActionExpired", run: testActionExpired},
	{name: "ActionOnClosedSuspension", run: testActionOnClosedSuspension},
	{name: "ActionRaceDifferentIDs", run: testActionRaceDifferentIDs, alone: true},
	{name: "ActionRaceSameID", run: testActionRaceSameID, alone: true},
	{name: "ActionRaceWithExpiry", run: testActionRaceWithExpiry, alone: true},
}

// requireReceipt requires the receipt to record the request a.
func requireReceipt(t *testing.T, a taskbridge.ActionRequest, eventID uint64, rc *taskbridge.ActionReceipt) {
	t.Helper()
	require.NotNil(t, rc)
	require.Equal(t, a.TaskID, rc.TaskID)
	require.Equal(t, a.ClientActionID, rc.ClientActionID)
	require.Equal(t, a.SuspendID, rc.SuspendID)
	require.Equal(t, a.ActionType, rc.ActionType)
	require.JSONEq(t, string(a.Payload), string(rc.Payload))
	require.JSONEq(t, string(a.Metadata), string(rc.Metadata))
	require.Equal(t, a.Fingerprint, rc.Fingerprint)
	requireTime(t, a.Now, rc.Now, "receipt Now")
	requireTime(t, a.Now, rc.ReceivedAt, "ReceivedAt is the action's Now")
	require.Equal(t, eventID, rc.EventID)
}

func testActionAccepted(t *testing.T, e *env) {
	id, sid := e.suspendedTask(e.base.Add(time.Hour))
	e.message(id)
	a := e.action(id, sid, e.id("act"), "reject", `{"comment":"no","n":[1,2]}`, e.base.Add(time.Minute))
	out := e.accept(a)

	ev := out.Event
	require.Equal(t, id, ev.TaskID)
	require.Equal(t, uint64(4), ev.ID, "the accepted event takes the next id")
	require.Equal(t, taskbridge.EventActionAccepted, ev.Type)
	require.JSONEq(t, string(a.AcceptedEvent), string(ev.Payload))
	requireStamped(t, ev.CreatedAt, "CreatedAt")
	requireReceipt(t, a, ev.ID, out.Receipt)

	events := e.events(id)
	require.Len(t, events, 4)
	require.Equal(t, taskbridge.EventActionAccepted, events[3].Type)
	require.JSONEq(t, string(a.AcceptedEvent), string(events[3].Payload))
	requireTime(t, ev.CreatedAt, events[3].CreatedAt, "CreatedAt read back")
	task := e.get(id)
	require.Equal(t, uint64(4), task.LastEventID)
	require.Equal(t, taskbridge.StatusRunning, task.Status, "an accepted action does not move the status")

	s := e.suspensionOf(id, sid)
	require.Equal(t, taskbridge.SuspensionResolved, s.State)
	requireTime(t, a.Now, s.ResolvedAt, "ResolvedAt")
	requireReceipt(t, a, ev.ID, s.Action)
	require.False(t, s.HandedOff)
	_, ok, err := e.s.OpenSuspensionOf(e.ctx, id)
	require.NoError(t, err)
	require.False(t, ok, "a resolved suspension is not open")

	pending, err := e.s.PendingHandOffs(e.ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1, "the resume waits for its hand-off")
	require.Equal(t, sid, pending[0].SuspendID)
	require.Equal(t, id, pending[0].TaskID)
	require.Equal(t, taskbridge.SuspensionResolved, pending[0].State)
	requireReceipt(t, a, ev.ID, pending[0].Action)

	require.NoError(t, e.s.MarkHandedOff(e.ctx, id, sid))
	require.Empty(t, e.pending(), "a handed-off suspension is no longer pending")
	s = e.suspensionOf(id, sid)
	require.True(t, s.HandedOff)
	require.Equal(t, taskbridge.SuspensionResolved, s.State)
}

func testActionDeduplicated(t *testing.T, e *env) {
	id, sid := e.suspendedTask(e.base.Add(time.Hour))
	a := e.approve(id, sid, e.base)
	first := e.accept(a)

	repeat := a
	repeat.Now = e.base.Add(time.Second)
	repeat.Metadata = []byte(`{"device":"another"}`) // metadata is not part of the fingerprint
	repeat.AcceptedEvent = []byte(`{"other":true}`)
	for range 2 {
		out := e.record(repeat, taskbridge.ActionDeduplicated)
		require.Nil(t, out.Event, "a repeat appends nothing")
		requireReceipt(t, a, first.Event.ID, out.Receipt)
		e.requireUnchanged(id, first.Event.ID)
	}

	require.NoError(t, e.s.MarkHandedOff(e.ctx, id, sid))
	out := e.record(repeat, taskbridge.ActionDeduplicated)
	requireReceipt(t, a, first.Event.ID, out.Receipt)

	e.add(id, taskbridge.EventCompleted)
	out = e.record(repeat, taskbridge.ActionDeduplicated)
	requireReceipt(t, a, first.Event.ID, out.Receipt)
}

func testActionIdempotencyConflict(t *testing.T, e *env) {
	id, sid := e.suspendedTask(time.Time{})
	a := e.approve(id, sid, e.base)
	first := e.accept(a)

	other := e.action(id, sid, a.ClientActionID, "approve", `{"ok":false}`, e.base)
	_, err := e.s.RecordAction(e.ctx, other)
	require.ErrorIs(t, err, taskbridge.ErrIdempotencyConflict)
	var conflict *taskbridge.IdempotencyConflictError
	require.ErrorAs(t, err, &conflict, "the conflict names the task and the key")
	require.Equal(t, taskbridge.IdempotencyConflictError{TaskID: id, ClientActionID: a.ClientActionID}, *conflict)
	other = e.action(id, sid, a.ClientActionID, "reject", string(a.Payload), e.base)
	_, err = e.s.RecordAction(e.ctx, other)
	require.ErrorIs(t, err, taskbridge.ErrIdempotencyConflict)

	second := e.suspend(id, time.Time{})
	other = e.action(id, second, a.ClientActionID, "approve", string(a.Payload), e.base)
	_, err = e.s.RecordAction(e.ctx, other)
	require.ErrorIs(t, err, taskbridge.ErrIdempotencyConflict, "a clientActionId is one action per task")
	require.Equal(t, taskbridge.SuspensionOpen, e.suspensionOf(id, second).State)

	e.requireUnchanged(id, first.Event.ID+1)
	requireReceipt(t, a, first.Event.ID, e.suspensionOf(id, sid).Action)
}

func testActionAlreadyResolved(t *testing.T, e *env) {
	id, sid := e.suspendedTask(e.base.Add(time.Hour))
	a := e.approve(id, sid, e.base)
	first := e.accept(a)

	late := e.action(id, sid, e.id("act"), "reject", `{}`, e.base.Add(time.Second))
	for range 2 {
		out := e.record(late, taskbridge.ActionRejectedAlreadyResolved)
		require.Nil(t, out.Receipt)
		require.Nil(t, out.Event)
	}
	e.requireUnchanged(id, first.Event.ID)
	requireReceipt(t, a, first.Event.ID, e.suspensionOf(id, sid).Action)
}

func testActionNotAllowed(t *testing.T, e *env) {
	id, sid := e.suspendedTask(time.Time{})
	_, err := e.s.RecordAction(e.ctx, e.action(id, sid, e.id("act"), "delete", `{}`, e.base))
	require.ErrorIs(t, err, taskbridge.ErrActionNotAllowed)
	var notAllowed *taskbridge.ActionNotAllowedError
	require.ErrorAs(t, err, &notAllowed, "the refusal lists the types the suspension allows")
	require.Equal(t, taskbridge.ActionNotAllowedError{TaskID: id, SuspendID: sid, ActionType: "delete", AllowedActions: allowed}, *notAllowed)
	e.requireUnchanged(id, 2)
	require.Equal(t, taskbridge.SuspensionOpen, e.suspensionOf(id, sid).State)

	e.accept(e.approve(id, sid, e.base))
	_, err = e.s.RecordAction(e.ctx, e.action(id, sid, e.id("act"), "delete", `{}`, e.base))
	require.ErrorIs(t, err, taskbridge.ErrActionNotAllowed, "the type is judged before the suspension's state")
}

func testActionUnknownSuspensionOrTask(t *testing.T, e *env) {
	id, _ := e.suspendedTask(time.Time{})
	_, err := e.s.RecordAction(e.ctx, e.approve(id, e.id("missing"), e.base))
	require.ErrorIs(t, err, taskbridge.ErrSuspensionNotFound)
	e.requireUnchanged(id, 2)

	missing := e.id("missing")
	_, err = e.s.RecordAction(e.ctx, e.approve(missing, e.id("missing"), e.base))
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
}

func testActionExpired(t *testing.T, e *env) {
	expiresAt := e.base.Add(time.Minute)
	id, sid := e.suspendedTask(expiresAt)
	out := e.record(e.approve(id, sid, expiresAt), taskbridge.ActionRejectedExpired)
	require.Nil(t, out.Receipt)
	require.Nil(t, out.Event)
	e.requireUnchanged(id, 2)

	s := e.suspensionOf(id, sid)
	require.Equal(t, taskbridge.SuspensionExpired, s.State, "an action that finds it overdue expires it")
	require.False(t, s.ResolvedAt.IsZero())
	require.Nil(t, s.Action)
	_, ok, err := e.s.OpenSuspensionOf(e.ctx, id)
	require.NoError(t, err)
	require.False(t, ok)
	pending, err := e.s.PendingHandOffs(e.ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1, "the expiry waits for its hand-off")
	require.Equal(t, sid, pending[0].SuspendID)
	require.Equal(t, taskbridge.SuspensionExpired, pending[0].State)
	require.Nil(t, pending[0].Action)

	e.record(e.approve(id, sid, e.base), taskbridge.ActionRejectedExpired)
	e.requireUnchanged(id, 2)

	id, sid = e.suspendedTask(expiresAt)
	e.accept(e.approve(id, sid, expiresAt.Add(-time.Millisecond)))
}

func testActionOnClosedSuspension(t *testing.T, e *env) {
	id, sid := e.suspendedTask(e.base.Add(time.Hour))
	_, err := e.s.RequestCancel(e.ctx, id, "stop")
	require.NoError(t, err)
	end := e.add(id, taskbridge.EventCancelled)

	out := e.record(e.approve(id, sid, e.base), taskbridge.ActionRejectedAlreadyResolved)
	require.Nil(t, out.Receipt)
	require.Nil(t, out.Event)
	e.requireUnchanged(id, end.ID)
	require.Equal(t, taskbridge.SuspensionClosed, e.suspensionOf(id, sid).State)
	require.Empty(t, e.pending())
}

func testActionRaceDifferentIDs(t *testing.T, e *env) {
	const n = 50
	id, sid := e.suspendedTask(e.base.Add(time.Hour))
	reqs := make([]taskbridge.ActionRequest, n)
	for i := range reqs {
		reqs[i] = e.approve(id, sid, e.base)
	}
	outs := make([]taskbridge.ActionOutcome, n)
	errs := make([]error, n)
	parallel(n, func(i int) { outs[i], errs[i] = e.s.RecordAction(e.ctx, reqs[i]) })

	winner := -1
	for i, out := range outs {
		require.NoError(t, errs[i])
		switch out.Status {
		case taskbridge.ActionAccepted:
			require.Equal(t, -1, winner, "only one action may resolve a suspension")
			winner = i
		case taskbridge.ActionRejectedAlreadyResolved:
			require.Nil(t, out.Receipt)
			require.Nil(t, out.Event)
		default:
			require.Failf(t, "unexpected outcome", "%s", out.Status)
		}
	}
	require.NotEqual(t, -1, winner, "one action must resolve the suspension")
	events := e.events(id)
	require.Len(t, events, 3, "exactly one TASK_ACTION_ACCEPTED")
	require.Equal(t, taskbridge.EventActionAccepted, events[2].Type)
	requireReceipt(t, reqs[winner], 3, e.suspensionOf(id, sid).Action)
}

func testActionRaceSameID(t *testing.T, e *env) {
	const n = 50
	id, sid := e.suspendedTask(e.base.Add(time.Hour))
	a := e.approve(id, sid, e.base)
	outs := make([]taskbridge.ActionOutcome, n)
	errs := make([]error, n)
	parallel(n, func(i int) { outs[i], errs[i] = e.s.RecordAction(e.ctx, a) })

	accepted := 0
	for i, out := range outs {
		require.NoError(t, errs[i])
		switch out.Status {
		case taskbridge.ActionAccepted:
			accepted++
		case taskbridge.ActionDeduplicated:
			require.Nil(t, out.Event)
		default:
			require.Failf(t, "unexpected outcome", "%s", out.Status)
		}
		requireReceipt(t, a, 3, out.Receipt)
	}
	require.Equal(t, 1, accepted, "one ACCEPTED, every other DEDUPLICATED")
	require.Len(t, e.events(id), 3, "exactly one TASK_ACTION_ACCEPTED")
}

func testActionRaceWithExpiry(t *testing.T, e *env) {
	expiresAt := e.base.Add(time.Minute)
	for range 20 {
		id, sid := e.suspendedTask(expiresAt)
		var out taskbridge.ActionOutcome
		var expired int
		var actionErr, expireErr error
		parallel(2, func(i int) {
			if i == 0 {
				out, actionErr = e.s.RecordAction(e.ctx, e.approve(id, sid, e.base))
			} else {
				expired, expireErr = e.s.ExpireSuspensions(e.ctx, expiresAt, 10)
			}
		})
		require.NoError(t, actionErr)
		require.NoError(t, expireErr)
		s := e.suspensionOf(id, sid)
		switch out.Status {
		case taskbridge.ActionAccepted:
			require.Zero(t, expired, "a resolved suspension cannot expire")
			require.Equal(t, taskbridge.SuspensionResolved, s.State)
			e.requireUnchanged(id, 3)
		case taskbridge.ActionRejectedExpired:
			require.Equal(t, 1, expired)
			require.Equal(t, taskbridge.SuspensionExpired, s.State)
			e.requireUnchanged(id, 2)
		default:
			require.Failf(t, "unexpected outcome", "%s", out.Status)
		}
		require.NoError(t, e.s.MarkHandedOff(e.ctx, id, sid))
	}
	require.Empty(t, e.pending())
}
