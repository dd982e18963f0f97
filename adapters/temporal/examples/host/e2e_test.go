package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/taskbridge-go/taskbridge/adapters/temporal"
)

// guard bounds every wait of these tests; none asserts a duration.
const guard = 2 * time.Minute

var (
	binDir    string // set by TestMain
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// backends are the Temporal server and the database of the end-to-end
// tests, from TASKBRIDGE_TEST_TEMPORAL_ADDRESS (and _NAMESPACE, "default"
// when unset) and TASKBRIDGE_TEST_POSTGRES_URL. Without them the test is
// skipped, unless CI is set: in CI nothing skips.
type backends struct {
	temporalAddr, namespace, postgresURL string
}

func needBackends(t *testing.T) backends {
	t.Helper()
	b := backends{
		temporalAddr: os.Getenv("TASKBRIDGE_TEST_TEMPORAL_ADDRESS"),
		namespace:    os.Getenv("TASKBRIDGE_TEST_TEMPORAL_NAMESPACE"),
		postgresURL:  os.Getenv("TASKBRIDGE_TEST_POSTGRES_URL"),
	}
	if b.temporalAddr == "" || b.postgresURL == "" {
		msg := "TASKBRIDGE_TEST_TEMPORAL_ADDRESS and TASKBRIDGE_TEST_POSTGRES_URL must both be set for the end-to-end tests of the Temporal host"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must run them")
		}
		t.Skip(msg)
	}
	if b.namespace == "" {
		b.namespace = "default"
	}
	return b
}

// hostBinary builds the host once for all tests.
func hostBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "host")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// cluster is what the host processes of one test share: the database
// schema and the task queue, both the test's own.
type cluster struct {
	b      backends
	bin    string
	schema string
	queue  string
	logs   string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	b := needBackends(t)
	suffix := strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() { dropSchema(t, b.postgresURL, "tbe2e_"+suffix) })
	return &cluster{b: b, bin: hostBinary(t), schema: "tbe2e_" + suffix, queue: "taskbridge-e2e-" + suffix, logs: t.TempDir()}
}

// dropSchema drops the test's schema once its hosts are gone (cleanups
// run last-registered first, so after the processes' own).
func dropSchema(t *testing.T, url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("dropping schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("dropping schema %s: %v", schema, err)
	}
}

// proc is one host process.
type proc struct {
	name string
	cmd  *exec.Cmd
	base string
	done chan struct{} // closed when the process has exited and its output is read
	err  error         // of Wait, once done
}

// start starts a host process with the cluster's settings and extra flags
// and waits until it is ready. The test's end kills whatever still runs.
func (c *cluster) start(t *testing.T, name string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-executor", "temporal",
		"-temporal-address", c.b.temporalAddr, "-temporal-namespace", c.b.namespace, "-temporal-task-queue", c.queue,
		"-temporal-reconcile-interval", "1s", "-temporal-report-timeout", "5s", "-store", "postgres", "-postgres-url", c.b.postgresURL,
		"-postgres-schema", c.schema, "-metrics=false", "-log-level", "warn", "-drain", "10s"}, extra...)
	logFile, err := os.OpenFile(filepath.Join(c.logs, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	cmd := exec.Command(c.bin, args...)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() { // ends when the process's stdout closes
		defer close(p.done)
		defer logFile.Close()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		p.err = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("%s's log:\n%s", name, b)
		}
	})
	select {
	case p.base = <-addr:
	case <-p.done:
		t.Fatalf("%s exited before listening: %v", name, p.err)
	case <-time.After(guard):
		t.Fatalf("%s did not listen within %s", name, guard)
	}
	waitUntil(t, name+" to be ready", func() bool {
		res, err := http.Get(p.base + "/ready")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

// kill sends sig and waits for the process to exit.
func (p *proc) kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case <-p.done:
	case <-time.After(guard):
		t.Fatalf("%s did not exit within %s of %v", p.name, guard, sig)
	}
	if sig == syscall.SIGTERM {
		require.NoError(t, p.err, "%s exits 0 after SIGTERM", p.name)
	}
}

// waitUntil polls cond until it holds, within the guard.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", guard, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call makes a request as alice and decodes a JSON answer into out (when
// not nil); it returns the status.
func call(t *testing.T, method, url string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer alice")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if out != nil && res.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(data, out), "%s", data)
	}
	return res.StatusCode
}

// createScripted creates a scripted task on p and returns its id.
func createScripted(t *testing.T, p *proc, steps ...string) string {
	t.Helper()
	var input any
	require.NoError(t, json.Unmarshal([]byte(`{"steps":[`+strings.Join(steps, ",")+`]}`), &input))
	var created struct {
		TaskID string `json:"taskId"`
	}
	status := call(t, http.MethodPost, p.base+"/api/v1/tasks", map[string]any{
		"clientRequestId": rand.Text(), "taskType": "scripted", "input": input}, &created)
	require.Equal(t, http.StatusCreated, status)
	return created.TaskID
}

// event is an event as the wire carries it.
type event struct {
	Type      string          `json:"type"`
	EventID   string          `json:"eventId"`
	CreatedAt time.Time       `json:"createdAt"`
	Payload   json.RawMessage `json:"payload"`
}

func terminal(typ string) bool {
	return typ == "TASK_COMPLETED" || typ == "TASK_FAILED" || typ == "TASK_CANCELLED"
}

// history reads the task's events by polling p from the start to the
// terminal event.
func history(t *testing.T, p *proc, id string) []event {
	t.Helper()
	var all []event
	cursor := ""
	deadline := time.Now().Add(guard)
	for len(all) == 0 || !terminal(all[len(all)-1].Type) {
		require.False(t, time.Now().After(deadline), "task %s did not end within %s: %d events", id, guard, len(all))
		url := p.base + "/api/v1/tasks/" + id + "/events?waitTimeoutMs=5000"
		if cursor != "" {
			url += "&afterEventId=" + cursor
		}
		var page struct {
			Events           []event `json:"events"`
			NextAfterEventID *string `json:"nextAfterEventId"`
		}
		require.Equal(t, http.StatusOK, call(t, http.MethodGet, url, nil, &page))
		all = append(all, page.Events...)
		if page.NextAfterEventID != nil {
			cursor = *page.NextAfterEventID
		}
	}
	return all
}

// waitEvent waits until the task has an event of that type and returns it.
func waitEvent(t *testing.T, p *proc, id, typ string) event {
	t.Helper()
	var found event
	waitUntil(t, id+" to report "+typ, func() bool {
		var page struct {
			Events []event `json:"events"`
		}
		require.Equal(t, http.StatusOK, call(t, http.MethodGet, p.base+"/api/v1/tasks/"+id+"/events?limit=1000", nil, &page))
		for _, e := range page.Events {
			if e.Type == typ {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// follower reads a task's events over SSE from one host, resuming with
// Last-Event-ID whenever the stream breaks, until the terminal event. It
// keeps every event it got, with the time it got it.
type follower struct {
	mu       sync.Mutex
	events   []event
	received []time.Time
	resumes  int
	done     chan struct{}
	err      error
}

// follow starts a follower of task id on base; it ends at the terminal
// event or when ctx ends.
func follow(ctx context.Context, base, id string) *follower {
	f := &follower{done: make(chan struct{})}
	go func() { // ends at the terminal event or with ctx
		defer close(f.done)
		for {
			ended, err := f.connect(ctx, base, id)
			if ended {
				return
			}
			if ctx.Err() != nil {
				f.err = fmt.Errorf("the follower stopped before the end: %w (last: %v)", ctx.Err(), err)
				return
			}
			f.mu.Lock()
			f.resumes++
			f.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return f
}

// cursor is the id of the last event received.
func (f *follower) cursor() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		return ""
	}
	return f.events[len(f.events)-1].EventID
}

func (f *follower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

// connect reads one SSE response; it reports whether the terminal event
// came.
func (f *follower) connect(ctx context.Context, base, id string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/tasks/"+id+"/events/stream?access_token=alice", nil)
	if err != nil {
		return false, err
	}
	if c := f.cursor(); c != "" {
		req.Header.Set("Last-Event-ID", c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNoContent {
		return true, nil
	}
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("SSE answered %d", res.StatusCode)
	}
	r := bufio.NewReader(res.Body)
	var data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			var e event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				return false, err
			}
			now := time.Now()
			f.mu.Lock()
			f.events = append(f.events, e)
			f.received = append(f.received, now)
			f.mu.Unlock()
			if terminal(e.Type) {
				return true, nil
			}
			data = ""
		}
	}
}

// wait waits for the follower's end and returns what it got.
func (f *follower) wait(t *testing.T) []event {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(guard):
		t.Fatalf("the follower did not end within %s", guard)
	}
	require.NoError(t, f.err)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event(nil), f.events...)
}

// types lists the events' types.
func types(events []event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

// A ticking task created on A and followed over SSE on B goes on across
// A's SIGKILL and restart: B's follower gets every event once, in order,
// and the task completes.
func TestKilledHostsTaskGoesOn(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "A")
	b := c.start(t, "B", "-temporal-worker=false") // every workflow runs on A's worker

	id := createScripted(t, a, `{"ticks": {"count": 60, "intervalMs": 100}}`, `{"complete": {"result": {"ok": true}}}`)
	f := follow(t.Context(), b.base, id)
	waitUntil(t, "a few ticks", func() bool { return f.count() >= 10 })
	a.kill(t, syscall.SIGKILL)
	killedAt := f.count()
	a = c.start(t, "A")

	got := f.wait(t)
	want := history(t, b, id)
	require.Equal(t, want, got, "the follower got every event exactly once, in order")
	require.Len(t, got, 62, "TASK_STARTED, 60 ticks, TASK_COMPLETED")
	require.Equal(t, "TASK_COMPLETED", got[61].Type)
	for i, e := range got[1:61] {
		var p struct{ Message string }
		require.NoError(t, json.Unmarshal(e.Payload, &p))
		require.Equal(t, fmt.Sprintf("tick %d/60", i+1), p.Message)
	}
	require.Less(t, killedAt, 62, "A died mid-task")
	require.Equal(t, got, history(t, a, id), "A, restarted, reads the same history")
}

// A task suspended for approval survives the restart of both hosts; the
// action answered on B resumes it.
func TestSuspendedTaskResumedAfterBothRestart(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "A")
	b := c.start(t, "B")

	id := createScripted(t, a, `{"message": {"message": "before"}}`,
		`{"suspend": {"reasonCode": "APPROVAL", "allowedActions": ["approve", "reject"]}}`,
		`{"message": {"message": "after"}}`, `{"complete": {"result": "done"}}`)
	suspended := waitEvent(t, b, id, "TASK_SUSPENDED")
	var s struct {
		SuspendID string `json:"suspendId"`
	}
	require.NoError(t, json.Unmarshal(suspended.Payload, &s))

	a.kill(t, syscall.SIGTERM)
	b.kill(t, syscall.SIGTERM)
	a = c.start(t, "A")
	b = c.start(t, "B")

	status := call(t, http.MethodPost, b.base+"/api/v1/tasks/"+id+"/actions", map[string]any{
		"clientActionId": "approve-1", "suspendId": s.SuspendID, "actionType": "approve"}, nil)
	require.Less(t, status, 300, "the action is accepted: %d", status)
	events := history(t, a, id)
	require.Equal(t, []string{"TASK_STARTED", "TASK_MESSAGE", "TASK_SUSPENDED", "TASK_ACTION_ACCEPTED", "TASK_MESSAGE", "TASK_COMPLETED"}, types(events))
	require.JSONEq(t, `{"result":"done"}`, string(events[5].Payload))
}

// A cancel during a long ticking task (each tick an activity) ends it
// TASK_CANCELLED with the reason.
func TestCancelDuringActivity(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "A")
	b := c.start(t, "B")

	id := createScripted(t, a, `{"ticks": {"count": 100000}}`)
	waitEvent(t, a, id, "TASK_MESSAGE")
	status := call(t, http.MethodPost, b.base+"/api/v1/tasks/"+id+"/cancel", map[string]any{"reason": "user_left"}, nil)
	require.Less(t, status, 300, "the cancel is taken: %d", status)
	events := history(t, a, id)
	last := events[len(events)-1]
	require.Equal(t, "TASK_CANCELLED", last.Type)
	var p struct{ Reason string }
	require.NoError(t, json.Unmarshal(last.Payload, &p))
	require.Equal(t, "user_left", p.Reason)
	require.Less(t, len(events), 100002, "it was cancelled before its ticks ran out")
}

// A workflow terminated from Temporal's side ends its task TASK_FAILED
// (the Reconciler). It terminates with the Temporal CLI of
// TASKBRIDGE_TEST_TEMPORAL_CLI (`temporal` on PATH when unset), or with the
// SDK client when there is none.
func TestTerminatedWorkflowFailsTheTask(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a := c.start(t, "A")
	b := c.start(t, "B")

	id := createScripted(t, a, `{"sleepMs": 3600000}`)
	waitEvent(t, b, id, "TASK_STARTED")
	terminate(t, c.b, temporal.WorkflowID(id))
	events := history(t, b, id)
	require.Equal(t, []string{"TASK_STARTED", "TASK_FAILED"}, types(events))
	var p struct{ Code string }
	require.NoError(t, json.Unmarshal(events[1].Payload, &p))
	require.Equal(t, temporal.CodeWorkflowTerminated, p.Code)
}

func terminate(t *testing.T, b backends, workflowID string) {
	t.Helper()
	cli := os.Getenv("TASKBRIDGE_TEST_TEMPORAL_CLI")
	if cli == "" {
		cli = "temporal"
	}
	if path, err := exec.LookPath(cli); err == nil {
		out, err := exec.Command(path, "workflow", "terminate", "--address", b.temporalAddr, "--namespace", b.namespace,
			"--workflow-id", workflowID, "--reason", "e2e test").CombinedOutput()
		require.NoError(t, err, "%s", out)
		t.Logf("terminated with %s", path)
		return
	} else if !errors.Is(err, exec.ErrNotFound) {
		require.NoError(t, err)
	}
	tc, err := client.Dial(client.Options{HostPort: b.temporalAddr, Namespace: b.namespace})
	require.NoError(t, err)
	defer tc.Close()
	require.NoError(t, tc.TerminateWorkflow(t.Context(), workflowID, "", "e2e test"))
	t.Log("terminated with the SDK client: no Temporal CLI")
}
