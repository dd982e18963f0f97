package load_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/bench/fanout"
	"github.com/taskbridge-go/taskbridge/bench/load"
	"github.com/taskbridge-go/taskbridge/internal/pgtest"
)

// small is a run that ends quickly: 2 tasks, 5 subscribers each, 40 ticks
// per task.
func small(url string, transport load.Transport) load.Config {
	return load.Config{
		BaseURL: url, Transport: transport,
		Tasks: 2, Subscribers: 10, Rate: 400, Duration: 200 * time.Millisecond,
		Timeout: 30 * time.Second,
	}
}

// requireComplete checks that every subscriber received every event of its
// task once: STARTED and SUSPENDED before the start, then ACTION_ACCEPTED,
// the ticks and COMPLETED.
func requireComplete(t *testing.T, res load.Result) {
	t.Helper()
	require.True(t, res.Lossless(), "%v", res)
	ticks := 40
	require.Equal(t, res.Config.Subscribers*(ticks+2), res.Deliveries, "%v", res)
	require.Equal(t, res.Config.Subscribers*ticks, res.Samples, "one latency sample per tick and subscriber: %v", res)
	require.LessOrEqual(t, res.P50, res.P99)
	require.LessOrEqual(t, res.P99, res.Max)
	require.Positive(t, res.DeliveriesPerSecond)
}

func startFanout(t *testing.T) string {
	t.Helper()
	srv := fanout.New()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { srv.Close(); ts.Close() })
	return ts.URL
}

func TestAgainstTheBareFanOutServer(t *testing.T) {
	url := startFanout(t)
	for _, tr := range []load.Transport{load.SSE, load.WS} {
		t.Run(string(tr), func(t *testing.T) {
			res, err := load.Run(t.Context(), small(url, tr))
			require.NoError(t, err)
			requireComplete(t, res)
			require.Zero(t, res.Reconnects)
			require.Zero(t, res.ConnErrors)
			require.Empty(t, res.StreamError)
			require.False(t, res.ServerLag, "the bare server exports no metrics")
		})
	}
}

// TestReconnectsResumeByCursor puts a proxy that cuts every connection once
// it has carried a few events between the load tool and the server: the
// subscribers reconnect with their cursors and still miss nothing.
func TestReconnectsResumeByCursor(t *testing.T) {
	url := startFanout(t)
	for _, tr := range []load.Transport{load.SSE, load.WS} {
		t.Run(string(tr), func(t *testing.T) {
			proxy := newCuttingProxy(t, strings.TrimPrefix(url, "http://"), 1500)
			res, err := load.Run(t.Context(), small("http://"+proxy, tr))
			require.NoError(t, err)
			requireComplete(t, res)
			require.Positive(t, res.Reconnects, "the proxy cut the streams: %v", res)
			require.NotEmpty(t, res.StreamError, "a cut stream tells why it ended")
			require.Contains(t, res.String(), "stream_error=")
		})
	}
}

func TestAgainstTheExampleHost(t *testing.T) {
	url, pid := startHost(t)
	for _, tr := range []load.Transport{load.SSE, load.WS, load.LongPoll} {
		t.Run(string(tr), func(t *testing.T) {
			cfg := small(url, tr)
			cfg.ServerPID = pid
			res, err := load.Run(t.Context(), cfg)
			require.NoError(t, err)
			requireComplete(t, res)
			require.Positive(t, res.ServerRSS, "read from /proc")
			require.Contains(t, res.String(), "server_cpu=")
			if tr == load.LongPoll {
				require.False(t, res.ServerLag, "polls have no delivery lag")
				return
			}
			require.True(t, res.ServerLag, "the host's metrics give its delivery lag: %v", res)
			require.LessOrEqual(t, res.ServerLagP50, res.ServerLagP99)
			require.Contains(t, res.String(), "server_lag_p99=")
		})
	}
	t.Run("idle", func(t *testing.T) {
		cfg := small(url, load.SSE)
		cfg.Idle, cfg.Hold, cfg.ServerPID = true, 200*time.Millisecond, pid
		res, err := load.Run(t.Context(), cfg)
		require.NoError(t, err)
		require.True(t, res.Lossless(), "idle subscribers end with TASK_CANCELLED: %v", res)
		require.Equal(t, cfg.Subscribers, res.Deliveries, "only TASK_CANCELLED after the hold: %v", res)
		require.Zero(t, res.Samples)
		require.Contains(t, res.String(), "idle_mem/subscriber=")
	})
}

// TestAcrossReplicas creates and answers the tasks on one host and follows
// them on another, both on one PostgreSQL schema: the deliveries cross the
// database's notifications, losslessly.
func TestAcrossReplicas(t *testing.T) {
	dbURL := pgtest.URL(t)
	schema := pgtest.Schema(t, dbURL, "tbload") // the hosts create it
	flags := []string{"-store", "postgres", "-postgres-url", dbURL, "-postgres-schema", schema}
	a, _ := startHost(t, flags...)
	b, _ := startHost(t, flags...)
	awaitReady(t, a)
	awaitReady(t, b)
	for _, tr := range []load.Transport{load.SSE, load.WS, load.LongPoll} {
		t.Run(string(tr), func(t *testing.T) {
			cfg := small(a, tr)
			cfg.FollowURL = b
			res, err := load.Run(t.Context(), cfg)
			require.NoError(t, err)
			requireComplete(t, res)
		})
	}
}

// awaitReady polls the host's /ready until it answers 200 (its schema is
// migrated and it listens for appends).
func awaitReady(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		res, err := http.Get(url + "/ready")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, time.Minute, 20*time.Millisecond, "%s never became ready", url)
}

func TestBadConfig(t *testing.T) {
	ctx := t.Context()
	for name, cfg := range map[string]load.Config{
		"no url":               {},
		"unknown transport":    {BaseURL: "http://127.0.0.1:1", Transport: "carrier-pigeon"},
		"fewer than one tick":  {BaseURL: "http://127.0.0.1:1", Rate: 1, Duration: time.Millisecond},
		"more tasks than subs": {BaseURL: "http://127.0.0.1:1", Tasks: 3, Subscribers: 2},
		"negative":             {BaseURL: "http://127.0.0.1:1", PayloadBytes: -1},
	} {
		_, err := load.Run(ctx, cfg)
		require.Error(t, err, name)
	}
}

// startHost builds and starts examples/host on a free port and returns its
// URL and pid.
func startHost(t *testing.T, flags ...string) (string, int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "host")
	build := exec.Command("go", "build", "-o", bin, "../../examples/host")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if _, url, ok := strings.Cut(lines.Text(), "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return url, cmd.Process.Pid
		}
	}
	t.Fatal("the host did not say where it listens")
	return "", 0
}

// newCuttingProxy forwards TCP connections to target and cuts the first
// `cuts` streams (connections that start with a GET) once they have carried
// `after` bytes back; creates and actions pass untouched.
func newCuttingProxy(t *testing.T, target string, after int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	var cuts atomic.Int32
	cuts.Store(20)
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { pipe(ctx, client, target, &cuts, after) })
		}
	})
	return ln.Addr().String()
}

// pipe forwards client to target until either side closes or ctx ends. A
// connection that starts with a GET is cut after `after` bytes came back,
// while cuts are left.
func pipe(ctx context.Context, client net.Conn, target string, cuts *atomic.Int32, after int) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	stop := context.AfterFunc(ctx, func() { client.Close(); server.Close() })
	defer stop()
	in := bufio.NewReader(client)
	head, err := in.Peek(4)
	if err != nil {
		return
	}
	cut := string(head) == "GET " && cuts.Add(-1) >= 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(server, in)
		server.Close()
	}()
	var back io.Reader = server
	if cut {
		back = io.LimitReader(server, int64(after))
	}
	_, _ = io.Copy(client, back)
	client.Close()
	server.Close()
	<-done
}
