package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/internal/pgtest"
)

// dbProxy stands between the host and PostgreSQL, so that a test can take
// the database away (every connection cut, new ones refused) and give it
// back, as a restart or a network outage would, without touching the
// server that other tests share.
type dbProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newDBProxy proxies to the database of dbURL and returns the URL to use
// through it.
func newDBProxy(t *testing.T, dbURL string) (*dbProxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err, "the test database URL must be a URL")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &dbProxy{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *dbProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { pipe(up, c) })
		p.wg.Go(func() { pipe(c, up) })
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes every connection and refuses new ones until restore.
func (p *dbProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *dbProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// startHostBehindProxy starts a host on PostgreSQL in a schema of its own,
// reaching the database through a dbProxy; with down the proxy is cut
// before the host starts.
func startHostBehindProxy(t *testing.T, down bool) (*host, *dbProxy) {
	t.Helper()
	dbURL := pgtest.URL(t)
	proxy, viaProxy := newDBProxy(t, dbURL)
	if down {
		proxy.cut()
	}
	return startHost(t, "-store", "postgres", "-postgres-url", viaProxy, "-postgres-schema", pgtest.Schema(t, dbURL, "tbhost")), proxy
}

// readiness returns /ready's status code and body.
func (h *host) readiness(t *testing.T) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(h.base + "/ready")
	require.NoError(t, err)
	defer res.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return res.StatusCode, body
}

// TestDatabaseDownAtStart starts the host with its database unreachable:
// it serves, /ready answers 503 naming the database, and once the database
// is back the host becomes ready and runs tasks without a restart.
func TestDatabaseDownAtStart(t *testing.T) {
	t.Parallel()
	h, proxy := startHostBehindProxy(t, true)

	status, body := h.readiness(t)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "not_ready", body["status"])
	details, _ := body["details"].(map[string]any)
	require.Contains(t, details, "postgres")
	require.Equal(t, "not_ready", details["postgres"].(map[string]any)["status"])

	proxy.restore()
	h.awaitReady(t)
	id := h.createScripted(t, "alice", "after-outage", step("ticks", map[string]any{"count": 3, "intervalMs": 1}))
	events := h.follow(t, "alice", id)
	require.Equal(t, []string{"TASK_STARTED", "TASK_MESSAGE", "TASK_MESSAGE", "TASK_MESSAGE", "TASK_COMPLETED"}, types(events))
}

// TestDatabaseOutageMidStream takes the database away while a task is
// followed over SSE and WebSocket and gives it back: the streams resume
// (over the same connections, or by cursor after a reconnect) and end with
// the task's complete history.
func TestDatabaseOutageMidStream(t *testing.T) {
	t.Parallel()
	h, proxy := startHostBehindProxy(t, false)
	h.awaitReady(t)

	// The outage falls in the sleep: the task itself reports nothing while
	// the database is away.
	id := h.createScripted(t, "alice", "outage",
		step("ticks", map[string]any{"count": 10, "intervalMs": 1}),
		step("sleepMs", 2500),
		step("ticks", map[string]any{"count": 10, "intervalMs": 1}),
		step("complete", map[string]any{"result": "ok"}))
	ctx := t.Context()
	before := make(chan struct{}, 200)
	seen := func() { before <- struct{}{} }
	var wg sync.WaitGroup
	var sse, ws *stream
	wg.Go(func() { sse = followAcross(ctx, sseConnect, id, seen, h.base) })
	wg.Go(func() { ws = followAcross(ctx, wsConnect, id, seen, h.base) })
	for range 2 * 11 { // TASK_STARTED and the first ticks, on both streams
		select {
		case <-before:
		case <-time.After(guardWait):
			t.Fatal("the streams did not start")
		}
	}
	proxy.cut()
	time.Sleep(700 * time.Millisecond) // the outage's length; nothing is asserted about time
	proxy.restore()
	wg.Wait()

	want := h.follow(t, "alice", id)
	require.Len(t, want, 1+10+10+1)
	for name, s := range map[string]*stream{"SSE": sse, "WebSocket": ws} {
		require.NoError(t, s.err, name)
		require.Equal(t, want, s.events, "%s: the complete history, nothing lost or repeated", name)
	}
}

// TestDatabaseUnreachableIs503 takes the database away from a running host:
// every request that needs it answers 503 SERVICE_UNAVAILABLE with
// Retry-After and changes nothing, and once the database is back the same
// requests succeed.
func TestDatabaseUnreachableIs503(t *testing.T) {
	t.Parallel()
	h, proxy := startHostBehindProxy(t, false)
	h.awaitReady(t)
	id := h.createScripted(t, "alice", "before", step("sleepMs", 600000))
	h.waitFor(t, "alice", id, "TASK_STARTED")

	proxy.cut()
	create := map[string]any{"clientRequestId": "during", "taskType": "echo"}
	requests := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/api/v1/tasks", create},
		{http.MethodGet, "/api/v1/tasks/" + id, nil},
		{http.MethodGet, "/api/v1/tasks/" + id + "/events", nil},
		{http.MethodGet, "/api/v1/tasks/" + id + "/events/stream", nil},
		{http.MethodPost, "/api/v1/tasks/" + id + "/cancel", map[string]any{"reason": "stop"}},
		{http.MethodPost, "/api/v1/tasks/" + id + "/actions", map[string]any{"clientActionId": "a", "suspendId": "s", "actionType": "x"}},
	}
	for _, r := range requests {
		res := h.doJSON(t, r.method, r.path, "alice", r.body)
		requireEnvelope(t, res, http.StatusServiceUnavailable, gen.ErrorCodeServiceUnavailable)
		require.Equal(t, "2", res.header.Get("Retry-After"), "%s %s", r.method, r.path)
	}

	proxy.restore()
	h.awaitReady(t)
	r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", create)
	require.Equal(t, http.StatusCreated, r.status, "the create during the outage stored nothing: %s", r.body)
	snap := h.do(t, http.MethodGet, "/api/v1/tasks/"+id, "alice", "", nil)
	require.Equal(t, http.StatusOK, snap.status)
	require.Contains(t, string(snap.body), `"status":"RUNNING"`, "the cancel during the outage changed nothing")
	h.do(t, http.MethodPost, "/api/v1/tasks/"+id+"/cancel", "alice", "", nil)
}

// TestDatabaseCutWhileATaskReports takes the database away while a task
// reports as fast as it can and gives it back: the reports that failed are
// retried until they land, once each, and the task completes with its
// history dense and complete.
func TestDatabaseCutWhileATaskReports(t *testing.T) {
	t.Parallel()
	h, proxy := startHostBehindProxy(t, false)
	h.awaitReady(t)

	const ticks = 400
	id := h.createScripted(t, "alice", "reporting",
		step("ticks", map[string]any{"count": ticks, "intervalMs": 2}),
		step("complete", map[string]any{"result": "ok"}))
	for h.lastEventID(t, "alice", id) < 20 { // well under way
		time.Sleep(10 * time.Millisecond) // pacing, not an assertion
	}
	proxy.cut()
	time.Sleep(700 * time.Millisecond) // the outage's length; nothing is asserted about time
	proxy.restore()

	events := h.follow(t, "alice", id)
	require.Len(t, events, 1+ticks+1, "TASK_STARTED, every tick once, TASK_COMPLETED")
	requireDense(t, "the history", events)
	require.Equal(t, "TASK_COMPLETED", events[len(events)-1].Type)
	for i, e := range events[1 : 1+ticks] {
		require.Equal(t, "TASK_MESSAGE", e.Type)
		require.Contains(t, string(e.Payload), fmt.Sprintf(`"tick %d/%d"`, i+1, ticks), "each tick once, in order")
	}
}
