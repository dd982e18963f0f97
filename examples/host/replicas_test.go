package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/internal/pgtest"
)

// replica is an example host running as a process of its own.
type replica struct {
	*host
	cmd  *exec.Cmd
	logs *syncBuffer
}

// buildHost builds the example host binary into a test directory.
func buildHost(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "host")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// startReplica starts the binary with the flags and waits for it to listen.
func startReplica(t *testing.T, bin string, flags ...string) *replica {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-log-level", "warn", "-drain", "2s"}, flags...)
	cmd := exec.Command(bin, args...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the replica did not start; logs:\n%s", logs)
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, "unexpected first line %q", line)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return &replica{host: &host{base: addr}, cmd: cmd, logs: logs}
}

// awaitReady polls /ready until it answers 200.
func (h *host) awaitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(guardWait)
	for {
		res, err := http.Get(h.base + "/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "%s never became ready", h.base)
		time.Sleep(50 * time.Millisecond) // pacing, not an assertion
	}
}

// guardWait bounds the waits of these tests; it only turns a hang into a
// failure.
const guardWait = 60 * time.Second

// stream is what a follower got: every event as received, in order, with
// the hosts it used.
type stream struct {
	raw      []json.RawMessage
	events   []wireEvent
	switched int // reconnects to another host
	err      error
}

func (s *stream) cursor() string {
	if len(s.events) == 0 {
		return ""
	}
	return s.events[len(s.events)-1].EventID
}

// add records an event; it reports whether it was the terminal one.
func (s *stream) add(raw []byte) (bool, error) {
	var e wireEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		return false, err
	}
	s.raw = append(s.raw, append(json.RawMessage(nil), raw...))
	s.events = append(s.events, e)
	return terminal(e.Type), nil
}

// connectFunc follows the task over one connection to base, from the
// stream's cursor, adding what it receives; it returns done=true after the
// terminal event and an error when the connection failed first.
type connectFunc func(ctx context.Context, base, taskID string, s *stream, progress func()) (done bool, err error)

// followAcross follows the task on the first host and, once a connection to
// it fails, on the next, resuming from its cursor each time, until the
// terminal event. It never fails the test from its goroutine: the result
// says what happened.
func followAcross(ctx context.Context, connect connectFunc, taskID string, progress func(), bases ...string) *stream {
	s := &stream{}
	host := 0
	for attempt := 0; ; attempt++ {
		done, err := connect(ctx, bases[host], taskID, s, progress)
		if done {
			return s
		}
		if ctx.Err() != nil {
			s.err = fmt.Errorf("gave up after %d connections: %w", attempt+1, err)
			return s
		}
		if host < len(bases)-1 {
			host++
			s.switched++
		}
		time.Sleep(20 * time.Millisecond) // a client's reconnect delay
	}
}

// sseConnect follows over one SSE response, resuming with Last-Event-ID.
func sseConnect(ctx context.Context, base, taskID string, s *stream, progress func()) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/tasks/"+taskID+"/events/stream?access_token=alice", nil)
	if err != nil {
		return false, err
	}
	if c := s.cursor(); c != "" {
		req.Header.Set("Last-Event-ID", c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNoContent {
		return true, nil // already at the terminal event
	}
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("SSE answered %d", res.StatusCode)
	}
	r := bufio.NewReader(res.Body)
	id, data := "", ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && id != "":
			ended, err := s.add([]byte(data))
			if err != nil {
				return false, err
			}
			progress()
			if ended {
				return true, nil
			}
			id, data = "", ""
		case line == "":
			data = "" // a heartbeat has no id
		}
	}
}

// wsConnect follows over one WebSocket subscription.
func wsConnect(ctx context.Context, base, taskID string, s *stream, progress func()) (bool, error) {
	conn, res, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(base, "http://", "ws://", 1)+"/api/v1/tasks/ws?access_token=alice", nil)
	if err != nil {
		return false, err
	}
	res.Body.Close()
	defer conn.Close()
	sub := map[string]any{"action": "subscribe", "taskId": taskID}
	if c := s.cursor(); c != "" {
		sub["lastEventId"] = c
	}
	if err := conn.WriteJSON(sub); err != nil {
		return false, err
	}
	for {
		_, data, err := conn.ReadMessage()
		if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		var frame struct{ Type string }
		if err := json.Unmarshal(data, &frame); err != nil {
			return false, err
		}
		if frame.Type == "HEARTBEAT" || frame.Type == "SUBSCRIPTION_CONFIRMED" {
			continue
		}
		ended, err := s.add(data)
		if err != nil {
			return false, err
		}
		progress()
		if ended {
			return true, nil
		}
	}
}

// pollConnect long-polls until a request fails or the terminal event.
func pollConnect(ctx context.Context, base, taskID string, s *stream, progress func()) (bool, error) {
	for {
		q := url.Values{"waitTimeoutMs": {"2000"}, "access_token": {"alice"}}
		if c := s.cursor(); c != "" {
			q.Set("afterEventId", c)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/tasks/"+taskID+"/events?"+q.Encode(), nil)
		if err != nil {
			return false, err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		var page pollPage
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || err != nil {
			return false, fmt.Errorf("poll answered %d (%v)", res.StatusCode, err)
		}
		for _, raw := range page.Events {
			ended, err := s.add(raw)
			if err != nil {
				return false, err
			}
			progress()
			if ended {
				return true, nil
			}
		}
	}
}

// TestReplicasShareTasksAndSurviveAKill runs two host processes on one
// database. A task created on A is followed over SSE on B, over WebSocket on
// A and by long-polling on B; B is killed mid-stream, its followers resume
// on A from their cursors, and every follower ends with the same complete,
// gap-free history.
func TestReplicasShareTasksAndSurviveAKill(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	schema := pgtest.Schema(t, dbURL, "tbhost")
	bin := buildHost(t)
	flags := []string{"-store", "postgres", "-postgres-url", dbURL, "-postgres-schema", schema}
	a := startReplica(t, bin, flags...)
	b := startReplica(t, bin, flags...)
	a.awaitReady(t)
	b.awaitReady(t)

	const ticks = 80
	id := a.createScripted(t, "alice", "replicated",
		step("ticks", map[string]any{"count": ticks, "intervalMs": 25, "payloadBytes": 48}),
		step("complete", map[string]any{"result": "done"}))

	ctx, cancel := context.WithTimeout(t.Context(), 2*guardWait)
	defer cancel()
	onB := make(chan struct{}, 4*ticks) // a token per event received from B
	fromB := func() { onB <- struct{}{} }
	var wg sync.WaitGroup
	var sse, ws, poll *stream
	wg.Go(func() { sse = followAcross(ctx, sseConnect, id, fromB, b.base, a.base) })
	wg.Go(func() { ws = followAcross(ctx, wsConnect, id, func() {}, a.base) })
	wg.Go(func() { poll = followAcross(ctx, pollConnect, id, fromB, b.base, a.base) })

	for range 20 { // both of B's followers are well into the stream
		select {
		case <-onB:
		case <-ctx.Done():
			t.Fatal("B's followers received too little")
		}
	}
	require.NoError(t, b.cmd.Process.Signal(syscall.SIGKILL))
	wg.Wait()

	want := a.follow(t, "alice", id)
	require.Len(t, want, 1+ticks+1, "TASK_STARTED, the ticks, TASK_COMPLETED")
	requireDense(t, "the stored history", want)
	require.Equal(t, "TASK_COMPLETED", want[len(want)-1].Type)
	for name, s := range map[string]*stream{"SSE via B": sse, "WebSocket on A": ws, "poll via B": poll} {
		require.NoError(t, s.err, name)
		for _, raw := range s.raw {
			checkEvent(t, id, raw)
		}
		require.Equal(t, want, s.events, "%s: the identical complete history", name)
	}
	require.Equal(t, 1, sse.switched, "the SSE follower moved from B to A")
	require.Equal(t, 1, poll.switched, "the polling follower moved from B to A")
	require.Zero(t, ws.switched)
	a.awaitReady(t) // A is unharmed
}

// TestTasksOfADeadReplicaEndAsLost runs two host processes on one
// database with a short lease, starts a ticking task and a task waiting for
// a human on A and follows both on B. A is killed: within the lease B ends
// both with TASK_FAILED EXECUTOR_LOST (retryable), which their followers
// receive, after a dense history.
func TestTasksOfADeadReplicaEndAsLost(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	schema := pgtest.Schema(t, dbURL, "tbhost")
	bin := buildHost(t)
	flags := []string{"-store", "postgres", "-postgres-url", dbURL, "-postgres-schema", schema, "-lease", "3s"}
	a := startReplica(t, bin, flags...)
	b := startReplica(t, bin, flags...)
	a.awaitReady(t)
	b.awaitReady(t)

	ticking := a.createScripted(t, "alice", "ticking", step("ticks", map[string]any{"count": 1_000_000, "intervalMs": 20}))
	waiting := a.createScripted(t, "alice", "waiting",
		step("suspend", map[string]any{"reasonCode": "REVIEW", "allowedActions": []string{"approve"}}),
		step("complete", map[string]any{"result": "approved"}))
	b.waitFor(t, "alice", waiting, "TASK_SUSPENDED")

	ctx, cancel := context.WithTimeout(t.Context(), 2*guardWait)
	defer cancel()
	progress := make(chan struct{}, 1<<16)
	var wg sync.WaitGroup
	var tickFollower, waitFollower *stream
	wg.Go(func() {
		tickFollower = followAcross(ctx, sseConnect, ticking, func() { progress <- struct{}{} }, b.base)
	})
	wg.Go(func() { waitFollower = followAcross(ctx, wsConnect, waiting, func() {}, b.base) })
	for range 10 { // the ticking task is well under way
		select {
		case <-progress:
		case <-ctx.Done():
			t.Fatal("the ticking task made no progress")
		}
	}
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	wg.Wait()

	for name, s := range map[string]*stream{"ticking, over SSE": tickFollower, "waiting, over WebSocket": waitFollower} {
		require.NoError(t, s.err, name)
		requireDense(t, name, s.events)
		last := s.events[len(s.events)-1]
		require.Equal(t, "TASK_FAILED", last.Type, name)
		require.JSONEq(t, `{"code":"EXECUTOR_LOST","message":"no executor runs this task any more","retryable":true}`, string(last.Payload), name)
	}
	require.Equal(t, []string{"TASK_STARTED", "TASK_SUSPENDED", "TASK_FAILED"}, types(waitFollower.events))
	require.Equal(t, waitFollower.events, b.follow(t, "alice", waiting), "the follower saw the stored history")
	require.Equal(t, tickFollower.events, b.follow(t, "alice", ticking), "the follower saw the stored history")
}
