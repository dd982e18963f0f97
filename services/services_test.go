package services_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
	"github.com/taskbridge-go/taskbridge/taskspec"
)

// fakeExecutor records what the services hand it; its errors are settable.
type fakeExecutor struct {
	mu        sync.Mutex
	submitted []taskbridge.Task
	resumes   []taskbridge.Resume
	cancels   []string
	submitErr error
	cancelErr error
	resumeErr error
}

func (f *fakeExecutor) Submit(_ context.Context, t taskbridge.Task) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, t)
	return f.submitErr
}

func (f *fakeExecutor) Cancel(_ context.Context, taskID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, taskID)
	return f.cancelErr
}

func (f *fakeExecutor) Resume(_ context.Context, r taskbridge.Resume) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumes = append(f.resumes, r)
	return f.resumeErr
}

func (f *fakeExecutor) set(fn func(f *fakeExecutor)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeExecutor) resumeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.resumes)
}

type bearer struct{}

func (bearer) Resolve(_ context.Context, r *http.Request) (taskbridge.Principal, error) {
	if s := r.Header.Get("X-Subject"); s != "" {
		return taskbridge.Principal{Subject: s}, nil
	}
	return taskbridge.Principal{}, taskbridge.ErrUnauthenticated
}

type probe struct {
	name string
	err  error
}

func (p probe) Name() string                { return p.name }
func (p probe) Check(context.Context) error { return p.err }

// contract declares "job", which takes any object and completes with any
// result, and "typed", whose input, result and review actions have schemas.
const contract = `
openapi: 3.0.3
info: {title: services test, version: '1'}
paths: {}
x-taskbridge-task-types:
  job:
    input: {$ref: '#/components/schemas/Any'}
    result: {$ref: '#/components/schemas/Result'}
  typed:
    input: {$ref: '#/components/schemas/TypedInput'}
    result: {$ref: '#/components/schemas/TypedResult'}
    suspensions:
      review:
        actions:
          approve: {payload: {$ref: '#/components/schemas/Any'}}
          reject: {payload: {$ref: '#/components/schemas/Rejection'}}
components:
  schemas:
    Any: {type: object}
    Result: {nullable: true}
    TypedInput:
      type: object
      additionalProperties: false
      required: [text]
      properties:
        text: {type: string, minLength: 1}
        count: {type: integer, minimum: 0}
    TypedResult:
      type: object
      required: [words]
      properties:
        words: {type: integer, minimum: 1}
    Rejection:
      type: object
      required: [reason]
      properties:
        reason: {type: string, minLength: 1}
`

type fixture struct {
	store    *memory.Store
	exec     *fakeExecutor
	reporter *services.Reporter
	api      *services.API
	echo     *echo.Echo
	server   *httptest.Server
}

func testContract(t testing.TB) *taskspec.Spec {
	t.Helper()
	spec, err := taskspec.Parse([]byte(contract))
	require.NoError(t, err)
	return spec
}

// newFixture serves the API, mounted on an Echo of its own, at the
// contract's paths.
func newFixture(t testing.TB, edit func(*services.Config)) *fixture {
	t.Helper()
	return newMountedFixture(t, edit, func(e *echo.Echo) gen.EchoRouter { return e })
}

// newMountedFixture serves the API mounted on the router that mount picks
// on an Echo of its own.
func newMountedFixture(t testing.TB, edit func(*services.Config), mount func(*echo.Echo) gen.EchoRouter) *fixture {
	t.Helper()
	f := &fixture{store: memory.New(), exec: &fakeExecutor{}}
	spec := testContract(t)
	var err error
	f.reporter, err = services.NewReporter(services.ReporterConfig{Store: f.store, Contract: spec})
	require.NoError(t, err)
	cfg := services.Config{Store: f.store, Contract: spec, Executor: f.exec, Reporter: f.reporter, Auth: bearer{}}
	if edit != nil {
		edit(&cfg)
	}
	f.api, err = services.New(cfg)
	require.NoError(t, err)
	e := echo.New()
	f.api.Mount(mount(e))
	f.echo = e
	f.server = httptest.NewServer(e)
	t.Cleanup(f.server.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.server.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Subject", "alice")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(b, &v), "body: %s", b)
	return res.StatusCode, v
}

func (f *fixture) create(t *testing.T, requestID string) string {
	t.Helper()
	status, body := f.do(t, http.MethodPost, "/api/v1/tasks", "application/json", []byte(`{"clientRequestId":"`+requestID+`","taskType":"job"}`))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	return body["taskId"].(string)
}

func TestSubmissionFailureIs503AndEndsTheTask(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.exec.set(func(f *fakeExecutor) { f.submitErr = errors.New("queue full") })
	status, body := f.do(t, http.MethodPost, "/api/v1/tasks", "application/json", []byte(`{"clientRequestId":"r","taskType":"job"}`))
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, string(gen.ErrorCodeTaskSubmissionError), body["code"])
	require.NotContains(t, body["message"], "queue full", "no Go error strings on the wire")
	f.exec.set(func(f *fakeExecutor) { f.submitErr = nil })
	status, body = f.do(t, http.MethodPost, "/api/v1/tasks", "application/json", []byte(`{"clientRequestId":"r","taskType":"job"}`))
	require.Equal(t, http.StatusOK, status, "a retry finds the task")
	require.Equal(t, "FAILED", body["status"])
}

func TestCancelOfATaskNoExecutorRunsEndsItHere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	id := f.create(t, "c")
	f.exec.set(func(f *fakeExecutor) { f.cancelErr = taskbridge.ErrTaskNotRunning })
	status, body := f.do(t, http.MethodPost, "/api/v1/tasks/"+id+"/cancel", "application/json", []byte(`{"reason":"gone"}`))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "CANCELLATION_REQUESTED", body["status"])
	events, err := f.store.ReadAfter(t.Context(), id, 0, 10, 0)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, taskbridge.EventCancelled, events[0].Type)
	require.JSONEq(t, `{"reason":"gone"}`, string(events[0].Payload))
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) {
		c.Probes = []taskbridge.ReadinessProbe{probe{name: "db"}, probe{name: "cache", err: errors.New("connection refused")}}
	})
	status, body := f.do(t, http.MethodGet, "/ready", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "not_ready", body["status"])
	details := body["details"].(map[string]any)
	require.Equal(t, "ready", details["db"].(map[string]any)["status"])
	require.Equal(t, "not_ready", details["cache"].(map[string]any)["status"])
	require.Equal(t, "connection refused", details["cache"].(map[string]any)["error"])

	ok := newFixture(t, func(c *services.Config) { c.Probes = []taskbridge.ReadinessProbe{probe{name: "db"}} })
	status, _ = ok.do(t, http.MethodGet, "/ready", "", nil)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, ok.api.Drain(t.Context()))
	status, body = ok.do(t, http.MethodGet, "/ready", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, status, "a draining host is not ready")
	require.Equal(t, "not_ready", body["details"].(map[string]any)["server"].(map[string]any)["status"])
	status, body = ok.do(t, http.MethodPost, "/api/v1/tasks", "application/json", []byte(`{"clientRequestId":"late","taskType":"job"}`))
	require.Equal(t, http.StatusServiceUnavailable, status, "a draining host takes no new task")
	require.Equal(t, string(gen.ErrorCodeNotReady), body["code"])
	require.Zero(t, ok.submitted())
}

func multipartFile(t *testing.T, contentType string, size int) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	require.NoError(t, w.WriteField("clientRequestId", "up"))
	require.NoError(t, w.WriteField("taskType", "job"))
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", `form-data; name="attachment"; filename="f"`)
	hdr.Set("Content-Type", contentType)
	part, err := w.CreatePart(hdr)
	require.NoError(t, err)
	_, err = part.Write(bytes.Repeat([]byte{'x'}, size))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return w.FormDataContentType(), buf.Bytes()
}

func TestUploadPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) {
		c.Uploads = services.StaticUploads{MaxFileBytes: 100, MaxTotalBytes: 150, AllowedContentTypes: []string{"image/*"}}
	})
	ct, body := multipartFile(t, "application/pdf", 10)
	status, res := f.do(t, http.MethodPost, "/api/v1/tasks", ct, body)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, string(gen.ErrorCodeUploadValidationError), res["code"])

	ct, body = multipartFile(t, "image/png", 101)
	status, res = f.do(t, http.MethodPost, "/api/v1/tasks", ct, body)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Equal(t, string(gen.ErrorCodeUploadValidationError), res["code"])

	ct, body = multipartFile(t, "image/png", 100)
	status, res = f.do(t, http.MethodPost, "/api/v1/tasks", ct, body)
	require.Equal(t, http.StatusCreated, status, "%v", res)
	f.exec.mu.Lock()
	defer f.exec.mu.Unlock()
	require.Len(t, f.exec.submitted[0].Attachments, 1)
	require.Len(t, f.exec.submitted[0].Attachments[0].Data, 100)
}

func TestReporterRefusesInvalidEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	id := f.create(t, "r")
	ctx := t.Context()
	var invalid *taskbridge.InvalidInputError
	require.ErrorAs(t, f.reporter.Progress(ctx, id, taskbridge.Progress{Percent: 150}), &invalid)
	require.Equal(t, "/progress", invalid.Field)
	require.ErrorAs(t, f.reporter.Message(ctx, id, taskbridge.Message{Text: "m", Level: "loud"}), &invalid)
	_, err := f.reporter.Suspend(ctx, id, taskbridge.SuspendRequest{ReasonCode: "r"})
	require.ErrorAs(t, err, &invalid, "a suspension needs allowed actions")
	require.ErrorAs(t, f.reporter.Complete(ctx, id, json.RawMessage(`{nope`)), &invalid)
	events, err := f.store.ReadAfter(ctx, id, 0, 10, 0)
	require.NoError(t, err)
	require.Empty(t, events, "nothing invalid was appended")

	require.NoError(t, f.reporter.Start(ctx, id, ""))
	require.NoError(t, f.reporter.Complete(ctx, id, nil))
	require.ErrorIs(t, f.reporter.Message(ctx, id, taskbridge.Message{Text: "late"}), taskbridge.ErrTaskEnded)
	task, err := f.store.GetTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, taskbridge.StatusCompleted, task.Status)
	require.Equal(t, uint64(2), task.LastEventID)
}

func TestReporterTurnsTheEndIntoCancelledOnceRequested(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	for _, end := range []func(id string) error{
		func(id string) error { return f.reporter.Complete(ctx, id, json.RawMessage(`1`)) },
		func(id string) error { return f.reporter.Fail(ctx, id, taskbridge.Failure{Code: "X", Message: "x"}) },
	} {
		id := f.create(t, time.Now().String())
		require.NoError(t, f.reporter.Start(ctx, id, ""))
		_, err := f.store.RequestCancel(ctx, id, "stop")
		require.NoError(t, err)
		require.NoError(t, end(id))
		events, err := f.store.ReadAfter(ctx, id, 1, 10, 0)
		require.NoError(t, err)
		require.Len(t, events, 1)
		require.Equal(t, taskbridge.EventCancelled, events[0].Type)
		require.JSONEq(t, `{"reason":"stop"}`, string(events[0].Payload))
	}
}

// suspendAndAccept opens a suspension and accepts an action through the
// API, with the executor's resume failing as configured.
func suspendAndAccept(t *testing.T, f *fixture, requestID string) (string, taskbridge.Suspension) {
	t.Helper()
	id := f.create(t, requestID)
	require.NoError(t, f.reporter.Start(t.Context(), id, ""))
	s, err := f.reporter.Suspend(t.Context(), id, taskbridge.SuspendRequest{ReasonCode: "R", AllowedActions: []string{"ok"}})
	require.NoError(t, err)
	status, body := f.do(t, http.MethodPost, "/api/v1/tasks/"+id+"/actions", "application/json",
		[]byte(`{"clientActionId":"a","suspendId":"`+s.SuspendID+`","actionType":"ok"}`))
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, "ACCEPTED", body["status"])
	return id, s
}

func TestReconcilerRetriesAFailedHandOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.exec.set(func(f *fakeExecutor) { f.resumeErr = errors.New("executor unreachable") })
	id, s := suspendAndAccept(t, f, "h")
	require.Equal(t, 1, f.exec.resumeCount(), "the fast path tried once")

	rec := &services.Reconciler{Store: f.store, Executor: f.exec, Reporter: f.reporter}
	require.Equal(t, 0, rec.Pass(t.Context()), "still failing: nothing handed off")
	pending, err := f.store.PendingHandOffs(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)

	f.exec.set(func(f *fakeExecutor) { f.resumeErr = nil })
	require.Equal(t, 1, rec.Pass(t.Context()))
	pending, err = f.store.PendingHandOffs(t.Context(), 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	f.exec.mu.Lock()
	last := f.exec.resumes[len(f.exec.resumes)-1]
	f.exec.mu.Unlock()
	require.Equal(t, id, last.TaskID)
	require.Equal(t, s.SuspendID, last.SuspendID)
	require.NotNil(t, last.Action)
	require.Equal(t, "a", last.Action.ClientActionID)
}

func TestReconcilerFailsATaskItsExecutorLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.exec.set(func(f *fakeExecutor) { f.resumeErr = taskbridge.ErrTaskNotRunning })
	id, _ := suspendAndAccept(t, f, "lost")
	task, err := f.store.GetTask(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, taskbridge.StatusFailed, task.Status)
	events, err := f.store.ReadAfter(t.Context(), id, task.LastEventID-1, 1, 0)
	require.NoError(t, err)
	require.Contains(t, string(events[0].Payload), "EXECUTOR_LOST")
}

func TestRetentionPass(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	id := f.create(t, "old")
	require.NoError(t, f.reporter.Start(ctx, id, ""))
	_, err := f.reporter.Suspend(ctx, id, taskbridge.SuspendRequest{ReasonCode: "R", AllowedActions: []string{"ok"}, ExpiresAt: time.Now().Add(time.Millisecond)})
	require.NoError(t, err)
	live := f.create(t, "live")

	later := time.Now().Add(time.Hour)
	ret := &services.Retention{Store: f.store, RetainEnded: time.Minute, Clock: func() time.Time { return later }}
	pass := ret.Pass(ctx)
	require.Equal(t, 1, pass.Expired)
	require.Zero(t, pass.TasksRemoved, "the expired task has not ended yet")

	require.NoError(t, f.reporter.Fail(ctx, id, taskbridge.Failure{Code: "SUSPENSION_EXPIRED", Message: "late"}))
	pass = ret.Pass(ctx)
	require.Equal(t, 1, pass.TasksRemoved)
	_, err = f.store.GetTask(ctx, id)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = f.store.GetTask(ctx, live)
	require.NoError(t, err, "a live task is never removed")
}

// A poll stops short at its byte bound, with at least one event, and says
// hasMore until the last page.
func TestPollPagesAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *services.Config) { c.MaxPollBytes = 100 })
	ctx := t.Context()
	id := f.create(t, "large")
	require.NoError(t, f.reporter.Start(ctx, id, ""))
	for _, n := range []int{30, 30, 200, 30} {
		require.NoError(t, f.reporter.Message(ctx, id, taskbridge.Message{Text: strings.Repeat("m", n)}))
	}
	var pages [][]string
	var more []bool
	cursor := ""
	for {
		path := "/api/v1/tasks/" + id + "/events?maxEvents=10"
		if cursor != "" {
			path += "&afterEventId=" + cursor
		}
		status, body := f.do(t, http.MethodGet, path, "", nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		var ids []string
		for _, e := range body["events"].([]any) {
			ids = append(ids, e.(map[string]any)["eventId"].(string))
		}
		pages, more = append(pages, ids), append(more, body["hasMore"].(bool))
		if !body["hasMore"].(bool) {
			break
		}
		cursor = body["nextAfterEventId"].(string)
	}
	// Payloads: TASK_STARTED {} (2 bytes), then messages of 44, 44, 214, 44.
	require.Equal(t, [][]string{{"1", "2", "3"}, {"4"}, {"5"}}, pages)
	require.Equal(t, []bool{true, true, false}, more)
}

// failingStore fails every call of the background passes, with err.
type failingStore struct {
	taskbridge.Store
	err func(ctx context.Context) error
}

func (s failingStore) ExpireSuspensions(ctx context.Context, _ time.Time, _ int) (int, error) {
	return 0, s.err(ctx)
}

func (s failingStore) PruneReceipts(ctx context.Context, _ time.Time, _ int) (int, error) {
	return 0, s.err(ctx)
}

func (s failingStore) DeleteEndedBefore(ctx context.Context, _ time.Time, _ int) (int, error) {
	return 0, s.err(ctx)
}

// A pass that fails logs each failure, except when it failed because its
// context ended: a shutdown is no store error.
func TestRetentionLogsFailuresButNotShutdown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var logs bytes.Buffer
	store := failingStore{Store: f.store, err: func(ctx context.Context) error {
		if ctx.Err() != nil {
			return fmt.Errorf("store: %w", ctx.Err())
		}
		return errors.New("store: connection refused")
	}}
	ret := &services.Retention{Store: store, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ret.Pass(t.Context())
	require.Equal(t, 3, strings.Count(logs.String(), "level=ERROR"), "logs: %s", logs.String())

	logs.Reset()
	stopped, cancel := context.WithCancel(t.Context())
	cancel()
	ret.Pass(stopped)
	require.Empty(t, logs.String())
}
