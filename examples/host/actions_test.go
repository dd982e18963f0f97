package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// suspended starts a scripted task that suspends (then completes with the
// given result) and returns its id and suspendId.
func (h *host) suspended(t *testing.T, subject, requestID string, suspend map[string]any) (string, string) {
	t.Helper()
	id := h.createScripted(t, subject, requestID, step("suspend", suspend), step("complete", map[string]any{"result": "done"}))
	e := h.waitFor(t, subject, id, "TASK_SUSPENDED")
	var p gen.TaskSuspendedPayload
	require.NoError(t, json.Unmarshal(e.Payload, &p))
	return id, p.SuspendId
}

func action(clientActionID, suspendID, actionType string, payload map[string]any) map[string]any {
	a := map[string]any{"clientActionId": clientActionID, "suspendId": suspendID, "actionType": actionType}
	if payload != nil {
		a["payload"] = payload
	}
	return a
}

// act submits an action and decodes a success answer.
func (h *host) act(t *testing.T, subject, taskID string, a map[string]any) (int, gen.TaskClientActionResponse, response) {
	t.Helper()
	r := h.doJSON(t, http.MethodPost, "/api/v1/tasks/"+taskID+"/actions", subject, a)
	var body gen.TaskClientActionResponse
	if r.status < 300 {
		require.NoError(t, json.Unmarshal(r.body, &body))
	}
	return r.status, body, r
}

func TestActions(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	approve := map[string]any{"reasonCode": "APPROVAL", "allowedActions": []string{"approve", "reject"},
		"interaction": map[string]any{"question": "ok?"}, "uiHints": map[string]any{"style": "modal"}}

	t.Run("snapshot shows the open suspension", func(t *testing.T) {
		id, suspendID := h.suspended(t, "alice", "snap", approve)
		snap, err := h.client(t, "alice").GetTaskWithResponse(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, gen.TaskStatusRunning, snap.JSON200.Status)
		require.NotNil(t, snap.JSON200.OpenSuspension)
		require.Equal(t, suspendID, snap.JSON200.OpenSuspension.SuspendId)
		require.Equal(t, []string{"approve", "reject"}, snap.JSON200.OpenSuspension.AllowedActions)
		require.Equal(t, "ok?", (*snap.JSON200.OpenSuspension.Interaction)["question"])
	})

	t.Run("accepted, deduplicated, conflict, already resolved; the task resumes", func(t *testing.T) {
		id, suspendID := h.suspended(t, "alice", "accept", approve)
		status, body, _ := h.act(t, "alice", id, action("a1", suspendID, "approve", map[string]any{"note": "yes"}))
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, gen.TaskClientActionResponse{TaskId: id, SuspendId: suspendID, ClientActionId: "a1", Status: gen.TaskClientActionResponseStatusAccepted}, body)

		status, body, _ = h.act(t, "alice", id, action("a1", suspendID, "approve", map[string]any{"note": "yes"}))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, gen.TaskClientActionResponseStatusDeduplicated, body.Status)

		_, _, r := h.act(t, "alice", id, action("a1", suspendID, "approve", map[string]any{"note": "no"}))
		details := requireEnvelope(t, r, http.StatusConflict, gen.ErrorCodeIdempotencyConflict)
		require.Equal(t, map[string]any{"taskId": id, "clientActionId": "a1"}, details)

		status, body, _ = h.act(t, "alice", id, action("a2", suspendID, "reject", nil))
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, gen.TaskClientActionResponseStatusRejectedAlreadyResolved, body.Status)

		events := h.follow(t, "alice", id)
		require.Equal(t, []string{"TASK_STARTED", "TASK_SUSPENDED", "TASK_ACTION_ACCEPTED", "TASK_COMPLETED"}, types(events))
		var accepted gen.TaskActionAcceptedPayload
		require.NoError(t, json.Unmarshal(events[2].Payload, &accepted))
		require.Equal(t, "a1", accepted.ClientActionId)
		require.Equal(t, "approve", accepted.ActionType)
		require.Equal(t, suspendID, accepted.SuspendId)
	})

	t.Run("action type not allowed: 409 with the allowed ones", func(t *testing.T) {
		id, suspendID := h.suspended(t, "alice", "not-allowed", approve)
		_, _, r := h.act(t, "alice", id, action("x", suspendID, "delete_everything", nil))
		details := requireEnvelope(t, r, http.StatusConflict, gen.ErrorCodeActionNotAllowed)
		require.Equal(t, []any{"approve", "reject"}, details["allowedActions"])
	})

	t.Run("unknown suspension: 409 naming the open one", func(t *testing.T) {
		id, suspendID := h.suspended(t, "alice", "unknown-suspension", approve)
		_, _, r := h.act(t, "alice", id, action("x", "no-such-suspension", "approve", nil))
		details := requireEnvelope(t, r, http.StatusConflict, gen.ErrorCodeSuspensionNotOpen)
		require.Equal(t, "no-such-suspension", details["suspendId"])
		require.Equal(t, suspendID, details["openSuspendId"])
	})

	t.Run("racing actions: one accepted", func(t *testing.T) {
		id, suspendID := h.suspended(t, "alice", "race", approve)
		const n = 20
		bodies := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { // no require off the test's goroutine
				b, _ := json.Marshal(action(fmt.Sprintf("racer-%d", i), suspendID, "approve", nil))
				req, _ := http.NewRequest(http.MethodPost, h.base+"/api/v1/tasks/"+id+"/actions", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer alice")
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				defer res.Body.Close()
				bodies[i], errs[i] = io.ReadAll(res.Body)
			})
		}
		wg.Wait()
		accepted := 0
		for i := range n {
			require.NoError(t, errs[i])
			var body gen.TaskClientActionResponse
			require.NoError(t, json.Unmarshal(bodies[i], &body), "%s", bodies[i])
			s := body.Status
			if s == gen.TaskClientActionResponseStatusAccepted {
				accepted++
			} else {
				require.Equal(t, gen.TaskClientActionResponseStatusRejectedAlreadyResolved, s)
			}
		}
		require.Equal(t, 1, accepted)
		events := h.follow(t, "alice", id)
		require.Equal(t, []string{"TASK_STARTED", "TASK_SUSPENDED", "TASK_ACTION_ACCEPTED", "TASK_COMPLETED"}, types(events))
	})
}

func TestSuspensionExpiry(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id, suspendID := h.suspended(t, "alice", "expires", map[string]any{
		"kind": "EXTERNAL_CONFIRMATION_PENDING", "reasonCode": "WAIT", "allowedActions": []string{"confirm"}, "expiresInMs": 50})
	events := h.follow(t, "alice", id)
	require.Equal(t, []string{"TASK_STARTED", "TASK_SUSPENDED", "TASK_FAILED"}, types(events))
	var failed gen.TaskFailedPayload
	require.NoError(t, json.Unmarshal(events[2].Payload, &failed))
	require.Equal(t, "SUSPENSION_EXPIRED", failed.Code)

	status, body, _ := h.act(t, "alice", id, action("late", suspendID, "confirm", nil))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, gen.TaskClientActionResponseStatusRejectedExpired, body.Status)
}

func TestActionPastExpiresAtIsRejectedExpired(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "expired-action",
		step("suspend", map[string]any{"reasonCode": "WAIT", "allowedActions": []string{"confirm"}, "expiresInMs": 20}))
	var p gen.TaskSuspendedPayload
	require.NoError(t, json.Unmarshal(h.waitFor(t, "alice", id, "TASK_SUSPENDED").Payload, &p))
	require.NotNil(t, p.ExpiresAt)
	time.Sleep(time.Until(*p.ExpiresAt) + time.Millisecond) // be past expiresAt, whether or not the sweeper ran
	status, body, _ := h.act(t, "alice", id, action("late", p.SuspendId, "confirm", nil))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, gen.TaskClientActionResponseStatusRejectedExpired, body.Status)
	require.Equal(t, "TASK_FAILED", h.follow(t, "alice", id)[2].Type)
}
