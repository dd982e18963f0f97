package services_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

// snapshot reads the task's snapshot over HTTP and returns its fields as
// raw JSON.
func (f *fixture) snapshot(t *testing.T, taskID string) map[string]json.RawMessage {
	t.Helper()
	res := f.raw(t, http.MethodGet, "/api/v1/tasks/"+taskID)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var snap map[string]json.RawMessage
	require.NoError(t, json.NewDecoder(res.Body).Decode(&snap))
	return snap
}

// requireShows requires the snapshot's progress, result, failure and
// cancelReason to be the given JSON texts.
func requireShows(t *testing.T, snap map[string]json.RawMessage, progress, result, failure, cancelReason string) {
	t.Helper()
	for field, want := range map[string]string{"progress": progress, "result": result, "failure": failure, "cancelReason": cancelReason} {
		got, ok := snap[field]
		require.True(t, ok, "the snapshot always has %s", field)
		require.JSONEq(t, want, string(got), field)
	}
}

func TestSnapshotShowsProgressAndOutcome(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()

	id := f.create(t, "completes")
	requireShows(t, f.snapshot(t, id), `null`, `null`, `null`, `null`)
	require.NoError(t, f.reporter.Start(ctx, id, ""))
	require.NoError(t, f.reporter.Progress(ctx, id, taskbridge.Progress{Percent: 40, Stage: "upload", Message: "m"}))
	require.NoError(t, f.reporter.Message(ctx, id, taskbridge.Message{Text: "not a progress"}))
	progress := `{"progress":40,"stage":"upload","message":"m"}`
	requireShows(t, f.snapshot(t, id), progress, `null`, `null`, `null`)
	require.NoError(t, f.reporter.Complete(ctx, id, json.RawMessage(`{"pages":[1,2],"big":12345678901234567890}`)))
	snap := f.snapshot(t, id)
	requireShows(t, snap, progress, `{"pages":[1,2],"big":12345678901234567890}`, `null`, `null`)
	require.Equal(t, `{"pages":[1,2],"big":12345678901234567890}`, string(snap["result"]), "the result is given back as it was reported")

	id = f.create(t, "completes with null")
	require.NoError(t, f.reporter.Start(ctx, id, ""))
	require.NoError(t, f.reporter.Complete(ctx, id, nil))
	snap = f.snapshot(t, id)
	requireShows(t, snap, `null`, `null`, `null`, `null`)
	require.JSONEq(t, `"COMPLETED"`, string(snap["status"]))

	id = f.create(t, "fails")
	require.NoError(t, f.reporter.Start(ctx, id, ""))
	require.NoError(t, f.reporter.Fail(ctx, id, taskbridge.Failure{Code: "QUOTA", Message: "over quota", Retryable: true}))
	requireShows(t, f.snapshot(t, id), `null`, `null`, `{"code":"QUOTA","message":"over quota","retryable":true}`, `null`)

	id = f.create(t, "is cancelled")
	require.NoError(t, f.reporter.Start(ctx, id, ""))
	require.NoError(t, f.reporter.Progress(ctx, id, taskbridge.Progress{Percent: 5}))
	status, body := f.post(t, "/api/v1/tasks/"+id+"/cancel", `{"reason":"changed my mind"}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	require.NoError(t, f.reporter.Cancelled(ctx, id))
	requireShows(t, f.snapshot(t, id), `{"progress":5}`, `null`, `null`, `"changed my mind"`)
}
