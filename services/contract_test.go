package services_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/services"
)

func (f *fixture) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	return f.do(t, http.MethodPost, path, "application/json", []byte(body))
}

func (f *fixture) submitted() int {
	f.exec.mu.Lock()
	defer f.exec.mu.Unlock()
	return len(f.exec.submitted)
}

func TestCreateChecksTheInputAgainstItsTaskType(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) {
		c.InputChecks = map[string]func(json.RawMessage) error{"typed": func(input json.RawMessage) error {
			var in struct{ Count int }
			if err := json.Unmarshal(input, &in); err != nil {
				return err
			}
			if in.Count == 13 {
				return &taskbridge.InvalidInputError{Field: "/count", Reason: "is unlucky"}
			}
			return nil
		}}
	})
	status, body := f.post(t, "/api/v1/tasks", `{"clientRequestId":"r","taskType":"nope"}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, string(gen.ErrorCodeInvalidRequest), body["code"])
	require.Equal(t, map[string]any{"field": "taskType", "knownTaskTypes": []any{"job", "typed"}}, body["details"])

	for _, c := range []struct{ input, field string }{
		{``, "/input/text"},
		{`,"input":{}`, "/input/text"},
		{`,"input":{"text":""}`, "/input/text"},
		{`,"input":{"text":"x","extra":1}`, "/input/extra"},
		{`,"input":{"text":"x","count":-1}`, "/input/count"},
		{`,"input":{"text":"x","count":13}`, "/input/count"},
	} {
		status, body = f.post(t, "/api/v1/tasks", `{"clientRequestId":"r","taskType":"typed"`+c.input+`}`)
		require.Equal(t, http.StatusUnprocessableEntity, status, "input %s: %v", c.input, body)
		require.Equal(t, string(gen.ErrorCodeRequestValidationError), body["code"])
		require.Equal(t, c.field, body["details"].(map[string]any)["field"], "input %s", c.input)
	}
	require.Zero(t, f.submitted())
	status, body = f.post(t, "/api/v1/tasks", `{"clientRequestId":"r","taskType":"typed","input":{"text":"x"}}`)
	require.Equal(t, http.StatusCreated, status, "nothing was stored under the key before: %v", body)
}

func TestBeforeCreateRejectsOrEnriches(t *testing.T) {
	t.Parallel()
	var seen []string
	f := newFixture(t, func(c *services.Config) {
		c.BeforeCreate = func(_ context.Context, caller taskbridge.Principal, req *services.CreateRequest) error {
			var in struct{ Text string }
			if err := req.DecodeInput(&in); err != nil {
				return err
			}
			seen = append(seen, caller.Subject+":"+req.TaskType+":"+in.Text)
			if in.Text == "forbidden" {
				return services.Reject(gen.ErrorCodeTaskOwnershipError, "not today", map[string]any{"quota": 0})
			}
			if req.Metadata == nil {
				req.Metadata = map[string]any{}
			}
			req.Metadata["tenant"] = "acme"
			return nil
		}
	})
	status, body := f.post(t, "/api/v1/tasks", `{"clientRequestId":"a","taskType":"typed","input":{"text":"forbidden"}}`)
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, string(gen.ErrorCodeTaskOwnershipError), body["code"])
	require.Equal(t, "not today", body["message"])
	require.Equal(t, map[string]any{"quota": float64(0)}, body["details"])
	require.Zero(t, f.submitted())

	status, body = f.post(t, "/api/v1/tasks", `{"clientRequestId":"b","taskType":"typed","input":{"text":"fine"},"metadata":{"from":"app"}}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	task, err := f.store.GetTask(t.Context(), body["taskId"].(string))
	require.NoError(t, err)
	require.JSONEq(t, `{"from":"app","tenant":"acme"}`, string(task.Metadata))
	require.Equal(t, []string{"alice:typed:forbidden", "alice:typed:fine"}, seen)
}

func TestRejectWithACodeOutsideTheContractIs500(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) {
		c.BeforeCreate = func(context.Context, taskbridge.Principal, *services.CreateRequest) error {
			return services.Reject("MADE_UP", "no", nil)
		}
	})
	status, body := f.post(t, "/api/v1/tasks", `{"clientRequestId":"a","taskType":"job"}`)
	require.Equal(t, http.StatusInternalServerError, status)
	require.Equal(t, string(gen.ErrorCodeInternalError), body["code"])
}

func TestEveryErrorCodeHasAStatus(t *testing.T) {
	t.Parallel()
	spec, err := gen.GetSwagger()
	require.NoError(t, err)
	for _, code := range spec.Components.Schemas["ErrorCode"].Value.Enum {
		e := services.Reject(gen.ErrorCode(code.(string)), "m", nil)
		var se *services.Error
		require.ErrorAs(t, e, &se)
		require.Equal(t, gen.ErrorCode(code.(string)), se.Code, "%s has a status", code)
	}
}

// suspendTyped creates a "typed" task and opens its declared review
// suspension, as a typed handler would.
func suspendTyped(t *testing.T, f *fixture) (string, string) {
	t.Helper()
	status, body := f.post(t, "/api/v1/tasks", `{"clientRequestId":"s","taskType":"typed","input":{"text":"x"}}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	id := body["taskId"].(string)
	require.NoError(t, f.reporter.Start(t.Context(), id, ""))
	s, err := f.reporter.Suspend(t.Context(), id, taskbridge.SuspendRequest{ReasonCode: "review", AllowedActions: []string{"approve", "reject"}})
	require.NoError(t, err)
	return id, s.SuspendID
}

func TestActionPayloadMustMatchItsDeclaredSchema(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	id, suspendID := suspendTyped(t, f)
	action := func(clientActionID, actionType, payload string) (int, map[string]any) {
		return f.post(t, "/api/v1/tasks/"+id+"/actions",
			`{"clientActionId":"`+clientActionID+`","suspendId":"`+suspendID+`","actionType":"`+actionType+`"`+payload+`}`)
	}
	for _, payload := range []string{``, `,"payload":{}`, `,"payload":{"reason":""}`} {
		status, body := action("a1", "reject", payload)
		require.Equal(t, http.StatusUnprocessableEntity, status, "payload %q: %v", payload, body)
		require.Equal(t, "/payload/reason", body["details"].(map[string]any)["field"])
	}
	status, body := action("a2", "teleport", "")
	require.Equal(t, http.StatusConflict, status, "an undeclared action is the store's to refuse: %v", body)
	require.Equal(t, string(gen.ErrorCodeActionNotAllowed), body["code"])
	require.Zero(t, f.exec.resumeCount(), "nothing was recorded")

	status, body = action("a1", "reject", `,"payload":{"reason":"too long"}`)
	require.Equal(t, http.StatusAccepted, status, "the refused payloads left no receipt under a1: %v", body)
	require.Equal(t, "ACCEPTED", body["status"])
}

func TestActionWithoutPayloadIsCheckedAsAnEmptyObject(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	id, suspendID := suspendTyped(t, f)
	status, body := f.post(t, "/api/v1/tasks/"+id+"/actions", `{"clientActionId":"a","suspendId":"`+suspendID+`","actionType":"approve"}`)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
}

func TestReporterFailsATaskWhoseResultBreaksItsSchema(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	status, body := f.post(t, "/api/v1/tasks", `{"clientRequestId":"r","taskType":"typed","input":{"text":"x"}}`)
	require.Equal(t, http.StatusCreated, status)
	id := body["taskId"].(string)
	require.NoError(t, f.reporter.Start(ctx, id, ""))

	err := f.reporter.Complete(ctx, id, json.RawMessage(`{"words":0}`))
	var invalid *taskbridge.InvalidInputError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "/result/words", invalid.Field)
	require.ErrorIs(t, err, taskbridge.ErrTaskEnded)
	events, err := f.store.ReadAfter(ctx, id, 1, 10, 0)
	require.NoError(t, err)
	require.Len(t, events, 1, "no TASK_COMPLETED was appended")
	require.Equal(t, taskbridge.EventFailed, events[0].Type)
	var failed gen.TaskFailedPayload
	require.NoError(t, json.Unmarshal(events[0].Payload, &failed))
	require.Equal(t, services.CodeInvalidResult, failed.Code)
	require.Contains(t, failed.Message, "/result/words")

	status, body = f.post(t, "/api/v1/tasks", `{"clientRequestId":"ok","taskType":"typed","input":{"text":"x"}}`)
	require.Equal(t, http.StatusCreated, status)
	ok := body["taskId"].(string)
	require.NoError(t, f.reporter.Start(ctx, ok, ""))
	require.NoError(t, f.reporter.Complete(ctx, ok, json.RawMessage(`{"words":3}`)))
}

func TestMountUnderAGroupAndABasePath(t *testing.T) {
	t.Parallel()
	f := newMountedFixture(t, func(c *services.Config) {
		c.Routes = services.Routes{Base: "/v2/jobs", Health: "/healthz", Ready: services.Off}
	}, func(e *echo.Echo) gen.EchoRouter {
		e.GET("/hello", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "the host's own") })
		return e.Group("/g")
	})
	status, body := f.post(t, "/g/v2/jobs/tasks", `{"clientRequestId":"r","taskType":"job"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	id := body["taskId"].(string)
	status, body = f.do(t, http.MethodGet, "/g/v2/jobs/tasks/"+id, "", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, _ = f.do(t, http.MethodGet, "/g/healthz", "", nil)
	require.Equal(t, http.StatusOK, status)

	status, body = f.do(t, http.MethodGet, "/g/v2/jobs/nothing", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, string(gen.ErrorCodeRouteNotFound), body["code"])
	status, body = f.do(t, http.MethodGet, "/g/v2/jobs", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, string(gen.ErrorCodeRouteNotFound), body["code"])

	res := f.raw(t, http.MethodDelete, "/g/v2/jobs/tasks/"+id)
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	require.Equal(t, "GET", res.Header.Get("Allow"))
	require.Contains(t, readAll(t, res), string(gen.ErrorCodeMethodNotAllowed))

	for _, path := range []string{"/api/v1/tasks/" + id, "/g/ready", "/health"} {
		res := f.raw(t, http.MethodGet, path)
		require.Equal(t, http.StatusNotFound, res.StatusCode, path)
		require.NotContains(t, readAll(t, res), "ROUTE_NOT_FOUND", "%s is the host's: its own error handler answers", path)
	}
	res = f.raw(t, http.MethodGet, "/hello")
	require.Equal(t, http.StatusTeapot, res.StatusCode)
	require.JSONEq(t, `{"message":"the host's own"}`, readAll(t, res), "the host's routes keep the host's error handler")
}

func TestRoutesRefuseMalformedPaths(t *testing.T) {
	t.Parallel()
	for _, r := range []services.Routes{{Base: "v2"}, {Base: "/v2/"}, {Base: "/v2/:id"}, {Health: "health"}, {Base: services.Off}} {
		_, err := services.New(services.Config{
			Store: newFixture(t, nil).store, Contract: testContract(t), Executor: &fakeExecutor{},
			Reporter: &services.Reporter{}, Auth: bearer{}, Routes: r,
		})
		require.Error(t, err, "%+v", r)
	}
}

func (f *fixture) raw(t *testing.T, method, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.server.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-Subject", "alice")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestDrainWaitsForTheCreatesInFlight(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	f := newFixture(t, func(c *services.Config) {
		c.BeforeCreate = func(context.Context, taskbridge.Principal, *services.CreateRequest) error {
			close(entered)
			<-release
			return nil
		}
	})
	created := make(chan int, 1)
	go func() {
		status, _ := f.post(t, "/api/v1/tasks", `{"clientRequestId":"slow","taskType":"job"}`)
		created <- status
	}()
	<-entered
	drained := make(chan error, 1)
	go func() { drained <- f.api.Drain(context.Background()) }()
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) while a create was in flight", err)
	default:
	}
	close(release)
	require.NoError(t, <-drained)
	require.Equal(t, http.StatusCreated, <-created)
	require.Equal(t, 1, f.submitted(), "the task in flight reached the executor before Drain returned")
}

func TestAPanicIsAnsweredWithTheEnvelope(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) {
		c.BeforeCreate = func(context.Context, taskbridge.Principal, *services.CreateRequest) error { panic("a host's bug") }
	})
	status, body := f.post(t, "/api/v1/tasks", `{"clientRequestId":"p","taskType":"job"}`)
	require.Equal(t, http.StatusInternalServerError, status)
	require.Equal(t, string(gen.ErrorCodeInternalError), body["code"])
	require.NotContains(t, body["message"], "a host's bug", "no panic value on the wire")
	status, _ = f.post(t, "/api/v1/tasks", `{"clientRequestId":"p","taskType":"job"}`)
	require.Equal(t, http.StatusInternalServerError, status, "the API still answers")
}

func TestCreatesPerSubjectAreLimited(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	f := newFixture(t, func(c *services.Config) {
		c.Clock = clock
		c.Limits = services.Limits{CreatesPerSecond: 2, CreatesBurst: 3}
	})
	create := func(subject, id string) (int, http.Header, map[string]any) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.server.URL+"/api/v1/tasks",
			strings.NewReader(`{"clientRequestId":"`+id+`","taskType":"job"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Subject", subject)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return res.StatusCode, res.Header, body
	}
	for i := range 3 {
		status, _, _ := create("alice", fmt.Sprint("burst-", i))
		require.Equal(t, http.StatusCreated, status, "the burst")
	}
	status, header, body := create("alice", "over")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, string(gen.ErrorCodeTooManyRequests), body["code"])
	require.Equal(t, "1", header.Get("Retry-After"), "half a second to the next token, rounded up")
	status, _, _ = create("bob", "other")
	require.Equal(t, http.StatusCreated, status, "another subject has its own bucket")

	advance(500 * time.Millisecond)
	status, _, _ = create("alice", "refilled")
	require.Equal(t, http.StatusCreated, status, "a token came back")
	status, _, _ = create("alice", "again")
	require.Equal(t, http.StatusTooManyRequests, status)
}

func TestStreamsPerSubjectAreLimited(t *testing.T) {
	t.Parallel()
	sse := &heldStreams{}
	f := newFixture(t, func(c *services.Config) {
		c.Limits = services.Limits{StreamsPerSubject: 2}
		c.SSE = sse
	})
	id := f.create(t, "s")
	open := func() *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.server.URL+"/api/v1/tasks/"+id+"/events/stream", nil)
		require.NoError(t, err)
		req.Header.Set("X-Subject", "alice")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return res
	}
	first, second := open(), open()
	require.Equal(t, http.StatusOK, first.StatusCode)
	require.Equal(t, http.StatusOK, second.StatusCode)
	third := open()
	require.Equal(t, http.StatusTooManyRequests, third.StatusCode)
	require.Equal(t, "1", third.Header.Get("Retry-After"))
	third.Body.Close()

	first.Body.Close() // its stream ends, and gives its place back
	require.Eventually(t, func() bool {
		res := open()
		defer res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond, "a place freed is taken again")
	second.Body.Close()
}

// heldStreams serves SSE responses that stay open until their client goes.
type heldStreams struct{}

func (heldStreams) SSE(_ context.Context, _ taskbridge.Principal, _ taskbridge.Task, _ uint64, done func()) gen.StreamResponse {
	return heldStream{done}
}

type heldStream struct{ done func() }

func (s heldStream) ServeStream(w http.ResponseWriter, r *http.Request) error {
	defer s.done()
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	<-r.Context().Done()
	return nil
}
