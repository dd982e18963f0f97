package temporal

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/taskbridge-go/taskbridge"
)

// nonRetryable reports whether err is a non-retryable application error of
// type errType.
func nonRetryable(err error, errType string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable() && app.Type() == errType
}

func TestARepeatedReportWithTheSameKeyStoresOneEvent(t *testing.T) {
	t.Parallel()
	store, rec := newStore(t)
	acts := &Activities{Reporter: rec, Suspensions: store}
	createTask(t, store, "t1", "x", "null")
	ctx := t.Context()

	for range 2 {
		require.NoError(t, acts.report(ctx, reportRequest{Key: "w/1", TaskID: "t1", Kind: reportStart}))
		require.NoError(t, acts.report(ctx, reportRequest{Key: "w/2", TaskID: "t1", Kind: reportProgress, Progress: &taskbridge.Progress{Percent: 5}}))
		require.NoError(t, acts.report(ctx, reportRequest{Key: "w/3", TaskID: "t1", Kind: reportSuspend,
			Suspend: &taskbridge.SuspendRequest{SuspendID: "s3", AllowedActions: []string{"ok"}}}))
	}
	// A repeat of the final report after the task ended changes nothing
	// and is no error.
	for range 2 {
		require.NoError(t, acts.report(ctx, reportRequest{Key: "w/4", TaskID: "t1", Kind: reportComplete, Result: json.RawMessage(`1`)}))
	}
	types, _ := events(t, store, "t1")
	require.Equal(t, []taskbridge.EventType{taskbridge.EventStarted, taskbridge.EventProgress,
		taskbridge.EventSuspended, taskbridge.EventCompleted}, types)

	// Another report after the end is refused for good.
	err := acts.report(ctx, reportRequest{Key: "w/5", TaskID: "t1", Kind: reportMessage, Message: &taskbridge.Message{Text: "late"}})
	require.True(t, nonRetryable(err, errTypeTaskEnded), "%v", err)
	require.ErrorIs(t, reportError(err), taskbridge.ErrTaskEnded)
}

func TestReportErrorsAreClassified(t *testing.T) {
	t.Parallel()
	store, rec := newStore(t)
	acts := &Activities{Reporter: rec, Suspensions: store}
	createTask(t, store, "t1", "x", "null")
	ctx := t.Context()

	err := acts.report(ctx, reportRequest{Key: "k1", TaskID: "t1", Kind: reportProgress, Progress: &taskbridge.Progress{Percent: 150}})
	require.True(t, nonRetryable(err, errTypeInvalidInput), "%v", err)
	var invalid *taskbridge.InvalidInputError
	require.ErrorAs(t, reportError(err), &invalid)
	require.Equal(t, "/progress", invalid.Field)

	err = acts.report(ctx, reportRequest{Key: "k2", TaskID: "gone", Kind: reportStart})
	require.True(t, nonRetryable(err, errTypeRefused), "%v", err)

	// An outage is retried by Temporal: a plain error.
	require.NoError(t, activityError(nil))
	err = activityError(taskbridge.ErrUnavailable)
	var app *temporal.ApplicationError
	require.False(t, errors.As(err, &app) && app.NonRetryable())
}

func TestExpireAsksTheStore(t *testing.T) {
	t.Parallel()
	store, rec := newStore(t)
	createTask(t, store, "t1", "x", "null")
	ctx := t.Context()
	at := time.Now().Add(time.Hour)
	now := at.Add(-time.Minute)
	acts := &Activities{Reporter: rec, Suspensions: store, Clock: func() time.Time { return now }}
	require.NoError(t, acts.report(ctx, reportRequest{Key: "k1", TaskID: "t1", Kind: reportStart}))
	require.NoError(t, acts.report(ctx, reportRequest{Key: "k2", TaskID: "t1", Kind: reportSuspend,
		Suspend: &taskbridge.SuspendRequest{SuspendID: "s", AllowedActions: []string{"ok"}, ExpiresAt: at}}))

	// Not overdue by this clock yet: a retryable error.
	_, err := acts.expire(ctx, expireRequest{TaskID: "t1", SuspendID: "s"})
	require.Error(t, err)
	require.False(t, nonRetryable(err, errTypeRefused))

	now = at
	out, err := acts.expire(ctx, expireRequest{TaskID: "t1", SuspendID: "s"})
	require.NoError(t, err)
	require.Nil(t, out.Action, "expired")
	// A retry of the activity gets the same answer.
	out, err = acts.expire(ctx, expireRequest{TaskID: "t1", SuspendID: "s"})
	require.NoError(t, err)
	require.Nil(t, out.Action)
	pending, err := store.PendingHandOffs(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending, "the workflow took the expiry")

	_, err = acts.expire(ctx, expireRequest{TaskID: "t1", SuspendID: "nope"})
	require.True(t, nonRetryable(err, errTypeRefused), "%v", err)
}

func TestConstructorsRefuseMissingDependencies(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	require.ErrorContains(t, err, "Client")
	_, err = NewWorker(Config{})
	require.ErrorContains(t, err, "Client")

	store, rec := newStore(t)
	typ := TaskType{Name: "a", Run: approve(0).Run}
	for _, cfg := range []Config{
		{Suspensions: store, Types: []TaskType{typ}},
		{Reporter: rec, Types: []TaskType{typ}},
		{Reporter: rec, Suspensions: store},
		{Reporter: rec, Suspensions: store, Types: []TaskType{{Name: "a"}}},
		{Reporter: rec, Suspensions: store, Types: []TaskType{typ, typ}},
		{Reporter: rec, Suspensions: store, Types: []TaskType{{Run: typ.Run}}},
	} {
		cfg.Client = fakeClient{}
		_, err := NewWorker(cfg)
		require.Error(t, err, "%+v", cfg)
	}
	_, err = New(Config{Client: fakeClient{}, Types: []TaskType{{Name: "a"}, {Name: "a"}}})
	require.Error(t, err)
}

func TestWorkflowIDs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "taskbridge-task-abc", WorkflowID("abc"))
	id, ok := TaskIDOf(WorkflowID("abc"))
	require.True(t, ok)
	require.Equal(t, "abc", id)
	_, ok = TaskIDOf("something-else")
	require.False(t, ok)
}
