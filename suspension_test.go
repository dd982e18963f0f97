package taskbridge_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

func TestSuspensionJudgesAnAction(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	open := taskbridge.Suspension{TaskID: "t", SuspendID: "s", AllowedActions: []string{"approve", "reject"}, State: taskbridge.SuspensionOpen}
	at := func(s taskbridge.Suspension, actionType string, when time.Time) (taskbridge.ActionStatus, error) {
		return s.Judge(taskbridge.ActionRequest{TaskID: "t", SuspendID: "s", ActionType: actionType, Now: when})
	}
	with := func(state taskbridge.SuspensionState, expiresAt time.Time) taskbridge.Suspension {
		s := open
		s.State, s.ExpiresAt = state, expiresAt
		return s
	}
	for _, c := range []struct {
		s    taskbridge.Suspension
		want taskbridge.ActionStatus
	}{
		{open, taskbridge.ActionAccepted},
		{with(taskbridge.SuspensionOpen, now.Add(time.Second)), taskbridge.ActionAccepted},
		{with(taskbridge.SuspensionOpen, now), taskbridge.ActionRejectedExpired},
		{with(taskbridge.SuspensionExpired, now.Add(time.Hour)), taskbridge.ActionRejectedExpired},
		{with(taskbridge.SuspensionResolved, time.Time{}), taskbridge.ActionRejectedAlreadyResolved},
		{with(taskbridge.SuspensionClosed, now), taskbridge.ActionRejectedAlreadyResolved},
	} {
		got, err := at(c.s, "approve", now)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "%s expiring at %s", c.s.State, c.s.ExpiresAt)

		_, err = at(c.s, "delete", now)
		var notAllowed *taskbridge.ActionNotAllowedError
		require.ErrorAs(t, err, &notAllowed, "the type is judged before the state (%s)", c.s.State)
		require.ErrorIs(t, err, taskbridge.ErrActionNotAllowed)
		require.Equal(t, taskbridge.ActionNotAllowedError{TaskID: "t", SuspendID: "s", ActionType: "delete", AllowedActions: []string{"approve", "reject"}}, *notAllowed)
		notAllowed.AllowedActions[0] = "changed"
		require.Equal(t, "approve", c.s.AllowedActions[0], "the error does not share the suspension's slice")
	}
}

func TestRepeatsAreJudgedByFingerprint(t *testing.T) {
	t.Parallel()
	task := taskbridge.Task{NewTask: taskbridge.NewTask{ID: "t1", ClientRequestID: "r", Fingerprint: "a"}}
	require.NoError(t, task.CheckRepeat(taskbridge.NewTask{ID: "t2", ClientRequestID: "r", Fingerprint: "a"}))
	err := task.CheckRepeat(taskbridge.NewTask{ID: "t2", ClientRequestID: "r", Fingerprint: "b"})
	require.ErrorIs(t, err, taskbridge.ErrIdempotencyConflict)
	var conflict *taskbridge.IdempotencyConflictError
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, taskbridge.IdempotencyConflictError{TaskID: "t1", ClientRequestID: "r"}, *conflict)

	rc := taskbridge.ActionReceipt{ActionRequest: taskbridge.ActionRequest{TaskID: "t1", ClientActionID: "a1", Fingerprint: "x"}}
	require.NoError(t, rc.CheckRepeat(taskbridge.ActionRequest{TaskID: "t1", ClientActionID: "a1", Fingerprint: "x"}))
	err = rc.CheckRepeat(taskbridge.ActionRequest{TaskID: "t1", ClientActionID: "a1", Fingerprint: "y"})
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, taskbridge.IdempotencyConflictError{TaskID: "t1", ClientActionID: "a1"}, *conflict)
	require.ErrorIs(t, err, taskbridge.ErrIdempotencyConflict)
}
