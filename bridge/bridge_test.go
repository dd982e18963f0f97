package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// contractJSON declares "wait", which takes {} and never ends by itself,
// on top of the base contract's paths (two of them, for the served
// document).
const contractJSON = `{
  "openapi": "3.0.3",
  "info": {"title": "bridge test", "version": "1"},
  "paths": {
    "/api/v1/tasks": {"post": {"operationId": "createTask", "responses": {"201": {"description": "created"}}}},
    "/health": {"get": {"operationId": "getHealth", "responses": {"200": {"description": "ok"}}}}
  },
  "x-taskbridge-task-types": {
    "wait": {"input": {"$ref": "#/components/schemas/Obj"}, "result": {"$ref": "#/components/schemas/Obj"}}
  },
  "components": {"schemas": {"Obj": {"type": "object"}}}
}`

// wait runs until its task is cancelled.
func wait(ctx context.Context, _ Run) (json.RawMessage, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

var anyone = BearerAuth(func(_ context.Context, token string) (taskbridge.Principal, error) {
	return taskbridge.Principal{Subject: token}, nil
})

func testConfig() Config {
	return Config{
		TaskTypes: TaskTypes{Contract: []byte(contractJSON), Types: []TaskType{{Name: "wait", Run: wait}}},
		Auth:      anyone,
	}
}

func TestNewChecksTheConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no auth", func(c *Config) { c.Auth = nil }, "Auth is required"},
		{"no contract", func(c *Config) { c.TaskTypes.Contract = nil }, "no Contract"},
		{"a contract that declares nothing", func(c *Config) {
			c.TaskTypes.Contract = []byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{}}`)
		},
			"declares no task types"},
		{"a handler for an undeclared type", func(c *Config) {
			c.TaskTypes.Types = append(c.TaskTypes.Types, TaskType{Name: "other", Run: wait})
		}, `"other" is not declared`},
		{"two handlers for one type", func(c *Config) {
			c.TaskTypes.Types = append(c.TaskTypes.Types, TaskType{Name: "wait", Run: wait})
		}, "two handlers"},
		{"a handler without Run", func(c *Config) { c.TaskTypes.Types[0].Run = nil }, "no Run"},
		{"a declared type without a handler", func(c *Config) { c.TaskTypes.Types = nil }, `"wait" has no handler`},
		{"a bad base path", func(c *Config) { c.HTTP.Base = "v2/" }, "must start with /"},
		{"an executor that fails", func(c *Config) {
			c.Executor = func(taskbridge.Reporter) (taskbridge.TaskExecutor, error) { return nil, errors.New("no engine") }
		}, "no engine"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			c.edit(&cfg)
			_, err := New(cfg)
			require.ErrorContains(t, err, c.want)
		})
	}
	cfg := testConfig()
	cfg.TaskTypes.Types = nil
	cfg.Executor = func(taskbridge.Reporter) (taskbridge.TaskExecutor, error) { return idle{}, nil }
	_, err := New(cfg)
	require.NoError(t, err, "an executor of its own needs no handlers: an API-only process")
}

// idle takes every task and runs none.
type idle struct{}

func (idle) Submit(context.Context, taskbridge.Task) error   { return nil }
func (idle) Cancel(context.Context, string) error            { return nil }
func (idle) Resume(context.Context, taskbridge.Resume) error { return nil }

func TestTheContractIsServedWhereTheAPIIs(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.HTTP = HTTP{Base: "/v2/jobs", Health: "/healthz"}
	b, err := New(cfg)
	require.NoError(t, err)
	e := echo.New()
	b.Mount(e.Group("/g"))
	server := httptest.NewServer(e)
	t.Cleanup(server.Close)

	res, err := http.Get(server.URL + "/g/v2/jobs/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var doc struct {
		Paths   map[string]any
		Servers []map[string]string
		Ext     map[string]any `json:"x-taskbridge-task-types"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	require.Len(t, doc.Paths, 2)
	require.Contains(t, doc.Paths, "/g/v2/jobs/tasks")
	require.Contains(t, doc.Paths, "/g/healthz")
	require.Equal(t, "/", doc.Servers[0]["url"])
	require.Contains(t, doc.Ext, "wait")

	cfg.HTTP = HTTP{OpenAPI: Off}
	hidden, err := New(cfg)
	require.NoError(t, err)
	e = echo.New()
	hidden.Mount(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func TestBearerAuth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, header, query, subject string
	}{
		{"header", "Bearer alice", "", "alice"},
		{"header wins over the query", "bearer  bob ", "alice", "bob"},
		{"query for browsers", "", "carol", "carol"},
		{"none", "", "", ""},
		{"another scheme", "Basic YTpi", "alice", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/x?access_token="+c.query, nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		p, err := anyone.Resolve(context.Background(), r)
		if c.subject == "" {
			require.ErrorIs(t, err, taskbridge.ErrUnauthenticated, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		require.Equal(t, c.subject, p.Subject, c.name)
	}
}

// shared is a memory store that says replicas share it.
type shared struct{ *memory.Store }

func (shared) Shared() bool { return true }

func TestOverASharedStoreATaskRunningElsewhereIsNotLost(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, c := range []struct {
		store taskbridge.Store
		lost  bool
	}{{memory.New(), true}, {shared{memory.New()}, false}} {
		cfg := testConfig()
		cfg.Store = c.store
		b, err := New(cfg)
		require.NoError(t, err)
		err = b.executor.Cancel(ctx, "elsewhere")
		require.Equal(t, c.lost, errors.Is(err, taskbridge.ErrTaskNotRunning), "%T: %v", c.store, err)
		err = b.executor.Resume(ctx, taskbridge.Resume{TaskID: "elsewhere", SuspendID: "s"})
		require.Equal(t, c.lost, errors.Is(err, taskbridge.ErrTaskNotRunning), "%T: %v", c.store, err)
		require.NoError(t, b.Shutdown(ctx))
	}
}

// The outcome of an action on a task that ended while its replica was away
// is for no one: the hand-off is settled instead of retried forever.
func TestOverASharedStoreAnEndedTaskIsNotRunningAnywhere(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := testConfig()
	store := shared{memory.New()}
	cfg.Store = store
	b, err := New(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Shutdown(ctx)) }()
	task, _, err := store.CreateTask(ctx, taskbridge.NewTask{ID: "ended", Owner: "o", ClientRequestID: "r", Type: "wait", Fingerprint: "f", CreatedAt: time.Now()})
	require.NoError(t, err)
	resume := taskbridge.Resume{TaskID: task.ID, SuspendID: "s"}
	require.ErrorIs(t, b.executor.Resume(ctx, resume), errNotHere, "live: it may run elsewhere")
	_, err = store.Append(ctx, task.ID, taskbridge.Append{Type: taskbridge.EventFailed, Status: taskbridge.StatusFailed,
		Payload: json.RawMessage(`{"code":"EXECUTOR_LOST","message":"gone","retryable":true}`)})
	require.NoError(t, err)
	require.ErrorIs(t, b.executor.Resume(ctx, resume), taskbridge.ErrTaskNotRunning, "ended: it runs nowhere")
}

// flaky is a store that must be prepared, and fails to be until its
// database "comes up".
type flaky struct {
	*memory.Store
	failures atomic.Int32
}

func (f *flaky) Prepare(context.Context) error {
	if f.failures.Add(-1) >= 0 {
		return errors.New("connection refused")
	}
	return nil
}

func TestRunPreparesTheStoreWithBackoff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := &flaky{Store: memory.New()}
		store.failures.Store(3)
		cfg := testConfig()
		cfg.Store = store
		b, err := New(cfg)
		require.NoError(t, err)
		ran := make(chan error, 1)
		go func() { ran <- b.Run(context.Background()) }()
		start := time.Now()
		synctest.Wait()
		require.Error(t, preparedProbe{b.prepared}.Check(context.Background()), "not ready while the database is down")
		<-b.prepared
		require.Equal(t, (500+1000+2000)*time.Millisecond, time.Since(start), "retried after 0.5 s, 1 s and 2 s")
		require.NoError(t, b.Shutdown(context.Background()))
		require.NoError(t, <-ran)
	})
}

// gated is a store whose preparation (a migration, say) lasts until
// release is closed.
type gated struct {
	*memory.Store
	release chan struct{}
}

func (g *gated) Prepare(ctx context.Context) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestTaskRoutesAnswerNotReadyUntilTheStoreIsPrepared(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	store := &gated{Store: memory.New(), release: make(chan struct{})}
	cfg.Store = store
	b, server, ran := runBridge(t, cfg)
	do := func(method, path, body string) *http.Response {
		req, err := http.NewRequest(method, server.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer alice")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	create := `{"clientRequestId":"r1","taskType":"wait"}`

	res := do(http.MethodPost, "/api/v1/tasks", create)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	var env gen.ErrorResponse
	require.NoError(t, json.NewDecoder(res.Body).Decode(&env))
	require.Equal(t, gen.ErrorCodeNotReady, env.Code)
	require.Equal(t, http.StatusServiceUnavailable, do(http.MethodGet, "/api/v1/tasks/x/events/stream", "").StatusCode)
	require.Equal(t, http.StatusOK, do(http.MethodGet, "/health", "").StatusCode, "health is the process's, not the store's")
	require.Equal(t, http.StatusServiceUnavailable, do(http.MethodGet, "/ready", "").StatusCode)

	close(store.release)
	<-b.prepared
	require.Equal(t, http.StatusCreated, do(http.MethodPost, "/api/v1/tasks", create).StatusCode)
	require.NoError(t, b.Shutdown(context.Background()))
	require.NoError(t, <-ran)
}

// runBridge makes a bridge of cfg, serves it on a test server and runs it
// until it is live; ran receives what Run returns. The caller shuts it
// down.
func runBridge(t *testing.T, cfg Config) (*Bridge, *httptest.Server, <-chan error) {
	t.Helper()
	b, err := New(cfg)
	require.NoError(t, err)
	e := echo.New()
	b.Mount(e)
	server := httptest.NewServer(e)
	t.Cleanup(server.Close)
	ran := make(chan error, 1)
	go func() { ran <- b.Run(context.Background()) }()
	<-b.Live()
	return b, server, ran
}

// diagnostics keeps the streams' events.
type diagnostics chan taskbridge.StreamEvent

func (d diagnostics) StreamEvent(e taskbridge.StreamEvent) { d <- e }

func TestShutdownEndsStreamsAndRefusesCreates(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	diag := make(diagnostics, 16)
	cfg.Diagnostics = diag
	b, server, ran := runBridge(t, cfg)

	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, server.URL+"/api/v1/tasks", strings.NewReader(`{"clientRequestId":"`+time.Now().String()+`","taskType":"wait"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer alice")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body struct{ TaskID, Code string }
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return res.StatusCode, body.TaskID + body.Code
	}
	status, id := post()
	require.Equal(t, http.StatusCreated, status)
	req, _ := http.NewRequest(http.MethodGet, server.URL+"/api/v1/tasks/"+id+"/events/stream?access_token=alice", nil)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	lines := bufio.NewReader(res.Body)
	for {
		line, err := lines.ReadString('\n')
		require.NoError(t, err)
		if strings.Contains(line, "TASK_STARTED") {
			break
		}
	}

	require.NoError(t, b.Shutdown(context.Background()))
	require.NoError(t, <-ran, "Run returns nil after Shutdown")
	_, err = io.ReadAll(lines)
	require.NoError(t, err, "the stream ended cleanly: its client resumes elsewhere by cursor")
	opened, closed := <-diag, <-diag
	if closed.Kind == taskbridge.StreamReplayed { // the task had begun when the stream opened
		closed = <-diag
	}
	require.Equal(t, taskbridge.StreamOpened, opened.Kind)
	require.Equal(t, "alice", opened.Subject)
	require.Equal(t, taskbridge.StreamShutdown, closed.Reason, "the configured diagnostics hear the streams")
	events, err := b.store.ReadAfter(context.Background(), id, 0, 10, 0)
	require.NoError(t, err)
	require.Equal(t, taskbridge.EventFailed, events[len(events)-1].Type)
	require.Contains(t, string(events[len(events)-1].Payload), "EXECUTOR_SHUTDOWN", "the running task failed as the executor stopped")
	status, code := post()
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "NOT_READY", code)
	require.NoError(t, b.Shutdown(context.Background()), "Shutdown is idempotent")
	require.ErrorContains(t, b.Run(context.Background()), "called before", "Run runs once")

	never, err := New(testConfig())
	require.NoError(t, err)
	require.NoError(t, never.Shutdown(context.Background()), "a bridge that never ran shuts down")
	require.NoError(t, never.Run(context.Background()), "Run after Shutdown returns at once")
}
