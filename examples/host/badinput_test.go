package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/internal/pgtest"
)

// onEveryStore runs test against a host on the memory store and one on
// PostgreSQL (skipped without a test database, never in CI).
func onEveryStore(t *testing.T, test func(t *testing.T, h *host)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, startHost(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		h := startHost(t, "-store", "postgres", "-postgres-url", url, "-postgres-schema", pgtest.Schema(t, url, "tbbad"))
		h.awaitReady(t)
		test(t, h)
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	onEveryStore(t, badInput)
}

func badInput(t *testing.T, h *host) {
	id := h.createScripted(t, "alice", "target", step("suspend", map[string]any{"reasonCode": "R", "allowedActions": []string{"approve"}}))
	h.waitFor(t, "alice", id, "TASK_SUSPENDED")
	tasks := "/api/v1/tasks"
	scripted := func(steps string) string {
		return `{"clientRequestId":"s","taskType":"scripted","input":{"steps":` + steps + `}}`
	}
	cases := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  gen.ErrorCode
		field                                 string
	}{
		{"malformed JSON", "POST", tasks, "application/json", `{"clientRequestId":`, 400, gen.ErrorCodeInvalidRequest, "body"},
		{"JSON with trailing data", "POST", tasks, "application/json", `{"clientRequestId":"c","taskType":"echo"}}`, 400, gen.ErrorCodeInvalidRequest, "body"},
		{"two JSON values", "POST", tasks, "application/json", `{"clientRequestId":"c","taskType":"echo"} {}`, 400, gen.ErrorCodeInvalidRequest, "body"},
		{"JSON of the wrong kind", "POST", tasks, "application/json", `[1,2]`, 422, gen.ErrorCodeRequestValidationError, "/"},
		{"wrong content type", "POST", tasks, "text/plain", `hello`, 400, gen.ErrorCodeInvalidRequest, "Content-Type"},
		{"no content type", "POST", tasks, "", `{"clientRequestId":"c","taskType":"echo"}`, 400, gen.ErrorCodeInvalidRequest, "Content-Type"},
		{"empty body", "POST", tasks, "application/json", ``, 422, gen.ErrorCodeRequestValidationError, "body"},
		{"missing field", "POST", tasks, "application/json", `{"taskType":"echo"}`, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
		{"unknown field", "POST", tasks, "application/json", `{"clientRequestId":"c","taskType":"echo","priority":1}`, 422, gen.ErrorCodeRequestValidationError, "/priority"},
		{"wrong type", "POST", tasks, "application/json", `{"clientRequestId":7,"taskType":"echo"}`, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
		{"input not an object", "POST", tasks, "application/json", `{"clientRequestId":"c","taskType":"echo","input":[1]}`, 422, gen.ErrorCodeRequestValidationError, "/input"},
		{"empty clientRequestId", "POST", tasks, "application/json", `{"clientRequestId":"","taskType":"echo"}`, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
		{"unknown task type", "POST", tasks, "application/json", `{"clientRequestId":"c","taskType":"teleport"}`, 400, gen.ErrorCodeInvalidRequest, "taskType"},
		{"oversized body", "POST", tasks, "application/json", `{"clientRequestId":"c","taskType":"echo","input":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`, 413, gen.ErrorCodeInvalidRequest, ""},
		{"scripted without steps", "POST", tasks, "application/json", `{"clientRequestId":"s","taskType":"scripted","input":{}}`, 422, gen.ErrorCodeRequestValidationError, "/input/steps"},
		{"scripted unknown step", "POST", tasks, "application/json", scripted(`[{"dance":1}]`), 422, gen.ErrorCodeRequestValidationError, "/input/steps/0/dance"},
		{"scripted progress 150", "POST", tasks, "application/json", scripted(`[{"progress":{"progress":150}}]`), 422, gen.ErrorCodeRequestValidationError, "/input/steps/0/progress/progress"},
		{"scripted step after terminal", "POST", tasks, "application/json", scripted(`[{"complete":{"result":1}},{"sleepMs":1}]`), 422, gen.ErrorCodeRequestValidationError, "/input/steps/1"},
		{"scripted two keys in a step", "POST", tasks, "application/json", scripted(`[{"sleepMs":1,"message":{"message":"m"}}]`), 422, gen.ErrorCodeRequestValidationError, "/input/steps/0"},
		{"scripted empty allowedActions", "POST", tasks, "application/json", scripted(`[{"suspend":{"reasonCode":"r","allowedActions":[]}}]`), 422, gen.ErrorCodeRequestValidationError, "/input/steps/0/suspend/allowedActions"},
		{"action: missing fields", "POST", tasks + "/" + id + "/actions", "application/json", `{"clientActionId":"a"}`, 422, gen.ErrorCodeRequestValidationError, "/suspendId"},
		{"action: unknown field", "POST", tasks + "/" + id + "/actions", "application/json", `{"clientActionId":"a","suspendId":"s","actionType":"t","extra":true}`, 422, gen.ErrorCodeRequestValidationError, "/extra"},
		{"action: malformed JSON", "POST", tasks + "/" + id + "/actions", "application/json", `{"clientActionId"`, 400, gen.ErrorCodeInvalidRequest, "body"},
		{"cancel: wrong type", "POST", tasks + "/" + id + "/cancel", "application/json", `{"reason":5}`, 422, gen.ErrorCodeRequestValidationError, "/reason"},
		{"task id with bad characters", "GET", tasks + "/bad$id", "", ``, 422, gen.ErrorCodeRequestValidationError, "taskId"},
		{"SSE: malformed lastEventId", "GET", tasks + "/" + id + "/events/stream?lastEventId=x", "", ``, 400, gen.ErrorCodeInvalidRequest, "lastEventId"},
		{"SSE: lastEventId ahead of the task", "GET", tasks + "/" + id + "/events/stream?lastEventId=999", "", ``, 400, gen.ErrorCodeInvalidRequest, "lastEventId"},
		{"poll: afterEventId ahead of the task", "GET", tasks + "/" + id + "/events?afterEventId=999&waitTimeoutMs=60000", "", ``, 400, gen.ErrorCodeInvalidRequest, "afterEventId"},
		{"unknown route", "GET", "/api/v1/nothing", "", ``, 404, gen.ErrorCodeRouteNotFound, ""},
		{"wrong method", "DELETE", tasks + "/" + id, "", ``, 405, gen.ErrorCodeMethodNotAllowed, ""},

		{"multipart without a boundary", "POST", tasks, "multipart/form-data", "--x\r\n", 400, gen.ErrorCodeInvalidRequest, "Content-Type"},
		{"multipart with an empty boundary", "POST", tasks, "multipart/form-data; boundary=", "--\r\n", 400, gen.ErrorCodeInvalidRequest, "Content-Type"},
		{"multipart with a boundary too long", "POST", tasks, "multipart/form-data; boundary=" + strings.Repeat("b", 71), "", 400, gen.ErrorCodeInvalidRequest, "Content-Type"},
		{"multipart with a bad boundary character", "POST", tasks, `multipart/form-data; boundary="a;b"`, "", 400, gen.ErrorCodeInvalidRequest, "Content-Type"},
		{"multipart with a malformed Content-Type", "POST", tasks, "multipart/form-data; boundary", "", 400, gen.ErrorCodeInvalidRequest, "Content-Type"},

		{"NUL in clientRequestId", "POST", tasks, "application/json", `{"clientRequestId":"a\u0000b","taskType":"echo"}`, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
		{"newline in clientRequestId", "POST", tasks, "application/json", `{"clientRequestId":"a\nb","taskType":"echo"}`, 422, gen.ErrorCodeRequestValidationError, "/clientRequestId"},
		{"C1 control in taskType", "POST", tasks, "application/json", `{"clientRequestId":"c","taskType":"echo\u0085"}`, 422, gen.ErrorCodeRequestValidationError, "/taskType"},
		{"NUL in clientActionId", "POST", tasks + "/" + id + "/actions", "application/json", `{"clientActionId":"a\u0000","suspendId":"s","actionType":"approve"}`, 422, gen.ErrorCodeRequestValidationError, "/clientActionId"},
		{"DEL in suspendId", "POST", tasks + "/" + id + "/actions", "application/json", `{"clientActionId":"a","suspendId":"s\u007f","actionType":"approve"}`, 422, gen.ErrorCodeRequestValidationError, "/suspendId"},
		{"tab in actionType", "POST", tasks + "/" + id + "/actions", "application/json", `{"clientActionId":"a","suspendId":"s","actionType":"app\trove"}`, 422, gen.ErrorCodeRequestValidationError, "/actionType"},
		{"NUL in a cancel reason", "POST", tasks + "/" + id + "/cancel", "application/json", `{"reason":"stop\u0000"}`, 422, gen.ErrorCodeRequestValidationError, "/reason"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(t, c.method, c.path, "alice", c.contentType, bytes.NewReader([]byte(c.body)))
			details := requireEnvelope(t, r, c.status, c.code)
			if c.field != "" {
				require.Equal(t, c.field, details["field"], "details: %v", details)
			}
			if c.name == "unknown task type" {
				require.Equal(t, []any{"echo", "scripted"}, details["knownTaskTypes"])
			}
			require.NotContains(t, string(r.body), "json:", "no Go error strings")
			health := h.do(t, http.MethodGet, "/health", "", "", nil)
			require.Equal(t, http.StatusOK, health.status, "the host keeps serving")
		})
	}
	// The suspended task is unharmed by all of it.
	snap, err := h.client(t, "alice").GetTaskWithResponse(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, gen.TaskStatusRunning, snap.JSON200.Status)
}

// A request without credentials is answered 401 at once, without waiting
// for a body its sender may never send, and its connection is closed.
func TestUnauthenticatedPartialBodyIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("POST /api/v1/tasks HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(guardWait))) // a hang fails; nothing is measured
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the host answers before the body is complete")
	defer res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.True(t, res.Close, "the connection is not kept for the rest of the body")
}
