package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// endpoints are the task endpoints, as method, path and JSON body.
func endpoints(taskID string) []struct{ method, path, body string } {
	base := "/api/v1/tasks/" + taskID
	return []struct{ method, path, body string }{
		{http.MethodGet, base, ""},
		{http.MethodGet, base + "/events", ""},
		{http.MethodGet, base + "/events/stream", ""},
		{http.MethodPost, base + "/cancel", `{"reason":"x"}`},
		{http.MethodPost, base + "/actions", `{"clientActionId":"a","suspendId":"s","actionType":"approve"}`},
	}
}

func TestAnotherOwnersTaskIsNotFoundEverywhere(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id, _ := h.suspended(t, "alice", "private", map[string]any{"reasonCode": "R", "allowedActions": []string{"approve"}})
	for _, ep := range append(endpoints(id), endpoints("NOSUCHTASK")...) {
		var body *strings.Reader
		contentType := ""
		if ep.body != "" {
			body, contentType = strings.NewReader(ep.body), "application/json"
		}
		var r response
		if body != nil {
			r = h.do(t, ep.method, ep.path, "mallory", contentType, body)
		} else {
			r = h.do(t, ep.method, ep.path, "mallory", "", nil)
		}
		requireEnvelope(t, r, http.StatusNotFound, gen.ErrorCodeTaskNotFound)
	}
	// Alice's task is untouched: still suspended, not cancelled.
	snap, err := h.client(t, "alice").GetTaskWithResponse(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, gen.TaskStatusRunning, snap.JSON200.Status)
	require.NotNil(t, snap.JSON200.OpenSuspension)
}

func TestNoCredentialsIs401(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "t")
	eps := append(endpoints(id), struct{ method, path, body string }{http.MethodPost, "/api/v1/tasks", `{"clientRequestId":"c","taskType":"echo"}`},
		struct{ method, path, body string }{http.MethodGet, "/api/v1/tasks/ws", ""})
	for _, ep := range eps {
		r := h.do(t, ep.method, ep.path, "", "application/json", strings.NewReader(ep.body))
		details := requireEnvelope(t, r, http.StatusUnauthorized, gen.ErrorCodeAuthenticationError)
		require.Equal(t, `Bearer realm="taskbridge"`, r.header.Get("WWW-Authenticate"), "%s %s", ep.method, ep.path)
		require.Equal(t, map[string]any{"reason": "no bearer token and no access_token"}, details, "%s %s", ep.method, ep.path)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/api/v1/tasks/"+id, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Basic YWxpY2U6eA==")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	res.Body.Close()
	details := requireEnvelope(t, response{status: res.StatusCode, header: res.Header, body: body}, http.StatusUnauthorized, gen.ErrorCodeAuthenticationError)
	require.Equal(t, "the Authorization header is not a bearer token", details["reason"], "only bearer tokens are accepted")
	require.Equal(t, `Bearer realm="taskbridge"`, res.Header.Get("WWW-Authenticate"))
}

func TestAccessTokenQueryParameter(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "t")
	r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"?access_token=alice", "", "", nil)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	r = h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"?access_token=bob", "", "", nil)
	requireEnvelope(t, r, http.StatusNotFound, gen.ErrorCodeTaskNotFound)
}

func TestCreateDeniedByPolicyIs403(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "readonly-dave", map[string]any{"clientRequestId": "c", "taskType": "echo"})
	requireEnvelope(t, r, http.StatusForbidden, gen.ErrorCodeTaskOwnershipError)
}

func TestDevTokensExpire(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "expiry")
	future := fmt.Sprintf("alice;expires=%d", time.Now().Add(time.Hour).Unix())
	r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id, future, "", nil)
	require.Equal(t, http.StatusOK, r.status, "an unexpired token is its subject's: %s", r.body)
	for _, token := range []string{fmt.Sprintf("alice;expires=%d", time.Now().Add(-time.Second).Unix()), "alice;expires=soon"} {
		r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id, token, "", nil)
		requireEnvelope(t, r, http.StatusUnauthorized, gen.ErrorCodeAuthenticationError)
	}
}
