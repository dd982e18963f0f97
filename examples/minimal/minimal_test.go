package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/bridge"
	"github.com/taskbridge-go/taskbridge/examples/minimal/jobs"
	"github.com/taskbridge-go/taskbridge/gen"
)

// minimalHost is the example running as a process of its own.
type minimalHost struct {
	base string
}

var addrInLog = regexp.MustCompile(`addr=(http://\S+)`)

// startMinimal builds the example, starts it on a free port and waits until
// it logs where it listens; it must exit cleanly on SIGTERM.
func startMinimal(t *testing.T) *minimalHost {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "minimal")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	logs := &lockedBuffer{}
	lines := bufio.NewScanner(stderr)
	var base string
	for base == "" && lines.Scan() {
		logs.Write([]byte(lines.Text() + "\n"))
		if m := addrInLog.FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
		}
	}
	require.NotEmpty(t, base, "the host did not log where it listens:\n%s", logs)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(logs, stderr)
	}()
	t.Cleanup(func() {
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		<-copied
		require.NoError(t, cmd.Wait(), "the host exits 0 on SIGTERM; logs:\n%s", logs)
	})
	return &minimalHost{base: base}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the token (none when "") and a JSON body.
func do(t *testing.T, method, url, token string, body any) answer {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

// envelope checks an error answer of the bridge and returns its details.
func envelope(t *testing.T, a answer, status int, code gen.ErrorCode) map[string]any {
	t.Helper()
	require.Equal(t, status, a.status, "body: %s", a.body)
	var e gen.ErrorResponse
	require.NoError(t, json.Unmarshal(a.body, &e), "body: %s", a.body)
	require.Equal(t, code, e.Code, "body: %s", a.body)
	return e.Details
}

func (h *minimalHost) create(t *testing.T, requestID string, input jobs.PublishInput) string {
	t.Helper()
	req, err := jobs.NewPublishTask(requestID, input)
	require.NoError(t, err)
	a := do(t, http.MethodPost, h.base+"/v2/jobs/tasks", "alice-token", req)
	require.Equal(t, http.StatusCreated, a.status, "body: %s", a.body)
	var c gen.CreateTaskResponse
	require.NoError(t, json.Unmarshal(a.body, &c))
	return c.TaskId
}

// sseEvents follows a task over SSE under the base path and hands each
// event to next until next returns false or the stream ends.
func (h *minimalHost) sseEvents(t *testing.T, taskID string, next func(gen.TaskEvent) bool) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/v2/jobs/tasks/"+taskID+"/events/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer alice-token")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || strings.Contains(data, `"HEARTBEAT"`) {
			continue
		}
		var e gen.TaskEvent
		require.NoError(t, json.Unmarshal([]byte(data), &e))
		if !next(e) {
			return
		}
	}
}

func eventType(t *testing.T, e gen.TaskEvent) string {
	t.Helper()
	typ, err := e.Type()
	require.NoError(t, err)
	return string(typ)
}

func TestMinimalHost(t *testing.T) {
	h := startMinimal(t)

	t.Run("the host's own route and error handler", func(t *testing.T) {
		a := do(t, http.MethodGet, h.base+"/version", "", nil)
		require.Equal(t, http.StatusOK, a.status)
		require.JSONEq(t, `{"version":"1"}`, string(a.body))
		for _, c := range []struct{ method, path string }{{http.MethodPost, "/version"}, {http.MethodGet, "/nothing"}, {http.MethodGet, "/api/v1/tasks/x"}} {
			a := do(t, c.method, h.base+c.path, "alice-token", nil)
			require.GreaterOrEqual(t, a.status, 400)
			require.NotContains(t, string(a.body), `"code"`, "%s %s is answered by Echo's own error handler, not the envelope: %s", c.method, c.path, a.body)
		}
	})

	t.Run("auth is the host's", func(t *testing.T) {
		none := do(t, http.MethodGet, h.base+"/v2/jobs/tasks/x", "", nil)
		details := envelope(t, none, http.StatusUnauthorized, gen.ErrorCodeAuthenticationError)
		require.Equal(t, `Bearer realm="taskbridge"`, none.header.Get("WWW-Authenticate"))
		require.Equal(t, "no bearer token and no access_token", details["reason"])
		refused := do(t, http.MethodGet, h.base+"/v2/jobs/tasks/x", "mallory-token", nil)
		envelope(t, refused, http.StatusUnauthorized, gen.ErrorCodeAuthenticationError)
		require.Equal(t, `Bearer realm="taskbridge", error="invalid_token"`, refused.header.Get("WWW-Authenticate"), "its token was refused")
		envelope(t, do(t, http.MethodGet, h.base+"/v2/jobs/tasks/x", "alice-token", nil), http.StatusNotFound, gen.ErrorCodeTaskNotFound)
		envelope(t, do(t, http.MethodGet, h.base+"/v2/jobs/nothing", "alice-token", nil), http.StatusNotFound, gen.ErrorCodeRouteNotFound)
	})

	t.Run("input is checked against its schema at create", func(t *testing.T) {
		for _, c := range []struct {
			input any
			field string
		}{
			{map[string]any{"text": "x"}, "/input/title"},
			{map[string]any{"title": "", "text": "x"}, "/input/title"},
			{map[string]any{"title": strings.Repeat("t", 121), "text": "x"}, "/input/title"},
			{map[string]any{"title": "t", "text": 7}, "/input/text"},
			{map[string]any{"title": "t", "text": "x", "draft": true}, "/input/draft"},
			{nil, "/input/title"},
		} {
			body := map[string]any{"clientRequestId": "bad", "taskType": "publish"}
			if c.input != nil {
				body["input"] = c.input
			}
			d := envelope(t, do(t, http.MethodPost, h.base+"/v2/jobs/tasks", "alice-token", body), http.StatusUnprocessableEntity, gen.ErrorCodeRequestValidationError)
			require.Equal(t, c.field, d["field"], "input %v", c.input)
		}
		d := envelope(t, do(t, http.MethodPost, h.base+"/v2/jobs/tasks", "alice-token", map[string]any{"clientRequestId": "bad", "taskType": "thumbnail"}),
			http.StatusBadRequest, gen.ErrorCodeInvalidRequest)
		require.Equal(t, "taskType", d["field"])
		// Nothing was stored under the key: it still makes a new task.
		h.create(t, "bad", jobs.PublishInput{Title: "Fine", Text: "now it is"})
	})

	t.Run("a rejection over SSE, with its payload checked", func(t *testing.T) {
		id := h.create(t, "rejected", jobs.PublishInput{Title: "Hello", Text: "one two three"})
		var seen []string
		var result jobs.PublishResult
		h.sseEvents(t, id, func(e gen.TaskEvent) bool {
			seen = append(seen, eventType(t, e))
			switch eventType(t, e) {
			case "TASK_SUSPENDED":
				s, err := e.AsTaskSuspendedEvent()
				require.NoError(t, err)
				require.Equal(t, "review", s.Payload.ReasonCode)
				require.Equal(t, []string{"approve", "reject"}, s.Payload.AllowedActions)
				require.Equal(t, map[string]any{"title": "Hello"}, map[string]any(*s.Payload.Interaction))
				bad := map[string]any{"clientActionId": "r1", "suspendId": s.Payload.SuspendId, "actionType": "reject", "payload": map[string]any{"reason": ""}}
				d := envelope(t, do(t, http.MethodPost, h.base+"/v2/jobs/tasks/"+id+"/actions", "alice-token", bad), http.StatusUnprocessableEntity, gen.ErrorCodeRequestValidationError)
				require.Equal(t, "/payload/reason", d["field"])
				reject, err := jobs.NewPublishReviewReject("r1", s.Payload.SuspendId, jobs.PublishReviewRejectPayload{Reason: "not yet"})
				require.NoError(t, err)
				a := do(t, http.MethodPost, h.base+"/v2/jobs/tasks/"+id+"/actions", "alice-token", reject)
				require.Equal(t, http.StatusAccepted, a.status, "the refused payload left nothing under r1: %s", a.body)
			case "TASK_COMPLETED":
				c, err := e.AsTaskCompletedEvent()
				require.NoError(t, err)
				result, err = jobs.PublishResultOf(c.Payload)
				require.NoError(t, err)
			}
			return true
		})
		require.Equal(t, []string{"TASK_STARTED", "TASK_PROGRESS", "TASK_SUSPENDED", "TASK_ACTION_ACCEPTED", "TASK_COMPLETED"}, seen)
		require.False(t, result.Published)
		require.Equal(t, "not yet", *result.Reason)
		require.Equal(t, 3, result.Words)
	})

	t.Run("an approval over WebSocket", func(t *testing.T) {
		id := h.create(t, "approved", jobs.PublishInput{Title: "Big news", Text: "we shipped"})
		header := http.Header{"Authorization": {"Bearer alice-token"}}
		conn, res, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(h.base, "http")+"/v2/jobs/tasks/ws", header)
		require.NoError(t, err)
		defer conn.Close()
		defer res.Body.Close()
		require.NoError(t, conn.WriteJSON(map[string]any{"action": "subscribe", "taskId": id}))
		var result jobs.PublishResult
		for done := false; !done; {
			_, data, err := conn.ReadMessage()
			require.NoError(t, err)
			var frame struct{ Type string }
			require.NoError(t, json.Unmarshal(data, &frame))
			var e gen.TaskEvent
			switch frame.Type {
			case "SUBSCRIPTION_CONFIRMED", "HEARTBEAT":
				continue
			case "TASK_SUSPENDED":
				require.NoError(t, e.UnmarshalJSON(data))
				s, err := e.AsTaskSuspendedEvent()
				require.NoError(t, err)
				approve, err := jobs.NewPublishReviewApprove("a1", s.Payload.SuspendId, jobs.PublishReviewApprovePayload{})
				require.NoError(t, err)
				require.Equal(t, http.StatusAccepted, do(t, http.MethodPost, h.base+"/v2/jobs/tasks/"+id+"/actions", "alice-token", approve).status)
			case "TASK_COMPLETED":
				require.NoError(t, e.UnmarshalJSON(data))
				c, err := e.AsTaskCompletedEvent()
				require.NoError(t, err)
				result, err = jobs.PublishResultOf(c.Payload)
				require.NoError(t, err)
				done = true
			}
		}
		require.True(t, result.Published)
		require.Equal(t, "https://blog.example/posts/"+id, *result.Url)
		_, _, err = conn.ReadMessage()
		var closed *websocket.CloseError
		require.ErrorAs(t, err, &closed)
		require.Equal(t, websocket.CloseNormalClosure, closed.Code, "closed with 1000 after the terminal event")
	})

	t.Run("the merged contract is served where the API is", func(t *testing.T) {
		a := do(t, http.MethodGet, h.base+"/v2/jobs/openapi.json", "", nil)
		require.Equal(t, http.StatusOK, a.status)
		var doc struct {
			Paths      map[string]any
			Components struct{ Schemas map[string]any }
		}
		require.NoError(t, json.Unmarshal(a.body, &doc))
		require.Contains(t, doc.Paths, "/v2/jobs/tasks")
		require.Contains(t, doc.Paths, "/v2/jobs/tasks/{taskId}/events/stream")
		require.Contains(t, doc.Paths, "/health")
		require.NotContains(t, doc.Paths, "/api/v1/tasks")
		require.Contains(t, doc.Components.Schemas, "CreatePublishTaskRequest")
		require.Contains(t, doc.Components.Schemas, "TaskTypes")
	})
}

// badPublisher breaks its own result schema: a post of no words.
type badPublisher struct{}

func (badPublisher) Publish(context.Context, jobs.PublishInput, *jobs.PublishRun) (jobs.PublishResult, error) {
	return jobs.PublishResult{Published: true, Words: 0}, nil
}

// A handler's result that breaks its schema fails the task; no client ever
// gets a TASK_COMPLETED the contract does not allow.
func TestResultOutsideItsSchemaFailsTheTask(t *testing.T) {
	b, err := bridge.New(bridge.Config{TaskTypes: jobs.TaskTypes(badPublisher{}), Auth: bridge.BearerAuth(auth), HTTP: bridge.HTTP{Base: "/v2/jobs"}})
	require.NoError(t, err)
	e := echo.New()
	b.Mount(e)
	server := httptest.NewServer(e)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- b.Run(ctx) }()
	t.Cleanup(func() {
		require.NoError(t, b.Shutdown(context.Background()))
		require.NoError(t, <-ran)
		cancel()
		server.Close()
	})
	h := &minimalHost{base: server.URL}
	id := h.create(t, "zero", jobs.PublishInput{Title: "Empty", Text: "words"})
	var last gen.TaskEvent
	h.sseEvents(t, id, func(e gen.TaskEvent) bool { last = e; return true })
	require.Equal(t, "TASK_FAILED", eventType(t, last))
	failed, err := last.AsTaskFailedEvent()
	require.NoError(t, err)
	require.Equal(t, "INVALID_RESULT", failed.Payload.Code)
	require.Contains(t, failed.Payload.Message, "/result/words")
	require.False(t, failed.Payload.Retryable)
}
