package services_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// requireError requires an error answer with the status and code, and
// returns its details.
func requireError(t *testing.T, status int, body map[string]any, wantStatus int, code gen.ErrorCode) map[string]any {
	t.Helper()
	require.Equal(t, wantStatus, status, "%v", body)
	require.Equal(t, string(code), body["code"], "%v", body)
	details, ok := body["details"].(map[string]any)
	require.True(t, ok, "details is an object: %v", body)
	return details
}

func TestCreateConflictNamesTheTaskOfTheKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	id := f.create(t, "key")
	status, body := f.post(t, "/api/v1/tasks", `{"clientRequestId":"key","taskType":"job","input":{"other":true}}`)
	details := requireError(t, status, body, http.StatusConflict, gen.ErrorCodeIdempotencyConflict)
	require.Equal(t, map[string]any{"taskId": id, "clientRequestId": "key"}, details)
}

func TestActionRefusalsCarryWhatAClientNeeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	id := f.create(t, "actions")
	require.NoError(t, f.reporter.Start(ctx, id, ""))
	action := func(clientActionID, suspendID, actionType string) (int, map[string]any) {
		return f.post(t, "/api/v1/tasks/"+id+"/actions",
			`{"clientActionId":"`+clientActionID+`","suspendId":"`+suspendID+`","actionType":"`+actionType+`"}`)
	}

	status, body := action("a0", "never", "ok")
	details := requireError(t, status, body, http.StatusConflict, gen.ErrorCodeSuspensionNotOpen)
	require.Equal(t, map[string]any{"field": "suspendId", "suspendId": "never", "openSuspendId": nil}, details, "the task waits on none")

	first, err := f.reporter.Suspend(ctx, id, taskbridge.SuspendRequest{ReasonCode: "R", AllowedActions: []string{"ok", "retry"}})
	require.NoError(t, err)
	status, body = action("a1", "never", "ok")
	details = requireError(t, status, body, http.StatusConflict, gen.ErrorCodeSuspensionNotOpen)
	require.Equal(t, map[string]any{"field": "suspendId", "suspendId": "never", "openSuspendId": first.SuspendID}, details)

	status, body = action("a2", first.SuspendID, "delete")
	details = requireError(t, status, body, http.StatusConflict, gen.ErrorCodeActionNotAllowed)
	require.Equal(t, map[string]any{"suspendId": first.SuspendID, "actionType": "delete", "allowedActions": []any{"ok", "retry"}}, details)

	status, body = action("a3", first.SuspendID, "ok")
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	status, body = action("a3", first.SuspendID, "retry")
	details = requireError(t, status, body, http.StatusConflict, gen.ErrorCodeIdempotencyConflict)
	require.Equal(t, map[string]any{"taskId": id, "clientActionId": "a3"}, details)

	status, body = action("a4", first.SuspendID, "ok")
	require.Equal(t, http.StatusAccepted, status, "a resolved suspension keeps the protocol's answer: %v", body)
	require.Equal(t, "REJECTED_ALREADY_RESOLVED", body["status"])
}
