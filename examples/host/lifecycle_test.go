package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/examples/host/hostapp"
	"github.com/taskbridge-go/taskbridge/gen"
)

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	r := h.do(t, http.MethodGet, "/health", "", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"status":"ok"}`, string(r.body))
	r = h.do(t, http.MethodGet, "/ready", "", "", nil)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var ready gen.ReadinessResponse
	require.NoError(t, json.Unmarshal(r.body, &ready))
	require.Equal(t, gen.ReadinessResponseStatusReady, ready.Status)
	require.NotNil(t, ready.Details)
}

func TestRetentionRemovesEndedTasksWhole(t *testing.T) {
	t.Parallel()
	h := startHost(t, "-retain-ended", "1ms")
	ended := h.createScripted(t, "alice", "short")
	require.Equal(t, "TASK_COMPLETED", h.follow(t, "alice", ended)[1].Type)
	live := h.createScripted(t, "alice", "long", step("sleepMs", 600000))
	h.waitFor(t, "alice", live, "TASK_STARTED")
	require.Eventually(t, func() bool {
		return h.do(t, http.MethodGet, "/api/v1/tasks/"+ended, "alice", "", nil).status == http.StatusNotFound
	}, 30*time.Second, 20*time.Millisecond, "the ended task is removed")
	for _, ep := range endpoints(ended) {
		if ep.body == "" {
			requireEnvelope(t, h.do(t, ep.method, ep.path, "alice", "", nil), http.StatusNotFound, gen.ErrorCodeTaskNotFound)
		}
	}
	p := h.poll(t, "alice", live, "")
	require.NotEmpty(t, p.Events, "a live task keeps its history")
	h.do(t, http.MethodPost, "/api/v1/tasks/"+live+"/cancel", "alice", "", nil)
}

func TestShutdownAnswersWaitingPollsAndEndsStreams(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"-addr", "127.0.0.1:0", "-drain", "30s", "-log-level", "error"}, io.Discard, io.Discard, ready)
	}()
	h := &host{base: "http://" + <-ready}
	id := h.createScripted(t, "alice", "waits", step("sleepMs", 600000))
	h.waitFor(t, "alice", id, "TASK_STARTED")
	answered := make(chan int, 1)
	sent := make(chan struct{})
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet,
			h.base+"/api/v1/tasks/"+id+"/events?afterEventId=1&waitTimeoutMs=60000", nil)
		req.Header.Set("Authorization", "Bearer alice")
		// A connection of its own: an idle keep-alive connection may be
		// closed by Shutdown just as the request is written on it.
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := client.Do(req)
		if err != nil {
			t.Log(err)
			answered <- 0
			return
		}
		res.Body.Close()
		answered <- res.StatusCode
	}()
	// Once the server accepted the poll's connection it serves the poll,
	// also while it shuts down: Shutdown waits for connections that are not
	// idle. The server accepts connections in order, so a probe on a newer
	// connection that is answered proves the poll's was accepted.
	<-sent
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := probe.Get(h.base + "/health")
	require.NoError(t, err)
	res.Body.Close()
	stream := h.sse(t, "/api/v1/tasks/"+id+"/events/stream?access_token=alice", nil)
	defer stream.Body.Close()
	lines := bufio.NewScanner(stream.Body)
	for lines.Scan() && lines.Text() != "" { // the stream is open once its first frames arrive
	}
	cancel()
	require.Equal(t, http.StatusOK, <-answered, "the waiting poll is answered at shutdown")
	_, err = io.ReadAll(stream.Body)
	require.NoError(t, err, "the SSE response ends cleanly at shutdown")
	require.Equal(t, 0, <-exited)
}

// TestSIGTERM builds the host, runs it as a process as the README says, and
// stops it with SIGTERM: it must drain and exit 0.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "host")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	cmd := exec.CommandContext(t.Context(), bin, "-log-level", "error")
	cmd.Env = append(cmd.Environ(), "TASKBRIDGE_ADDR=127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	base := strings.TrimSpace(line[strings.Index(line, "http://"):])
	h := &host{base: base}
	id := h.createScripted(t, "alice", "sig", step("message", map[string]any{"message": "hi"}))
	require.Equal(t, "TASK_COMPLETED", h.follow(t, "alice", id)[2].Type)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "the host exits 0 after SIGTERM")
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-store", "cassandra"}, {"-store", "redis"}, {"-nope"}, {"extra"}, {"-log-level", "loud"},
		{"-log-format", "yaml"}, {"-store", "postgres"}, {"-redis-url", "redis://x"}, {"-temporal-address", "x:7233"},
		{"-executor", "temporal"}, {"-executor", ""}} {
		require.Equal(t, 2, run(t.Context(), args, io.Discard, io.Discard, nil), "%v", args)
	}
}

// -h lists every flag the host has, each with its environment variable,
// and the other variables it reads; it names nothing that is not there.
func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"-h"}, io.Discard, &out, nil))
	help := out.String()
	flags := 0
	hostapp.FlagSet(io.Discard).VisitAll(func(f *flag.Flag) {
		flags++
		require.Regexp(t, `\n  -`+f.Name+`[ \n]`, help, "-h lists -%s", f.Name)
		require.Regexp(t, `\n  `+hostapp.EnvName(f.Name)+` +-`+f.Name+`\n`, help, "-h names the variable of -%s", f.Name)
	})
	require.Equal(t, flags, strings.Count(help, "\n  TASKBRIDGE_"), "one variable per flag, and no other")
	require.Equal(t, flags, strings.Count(help, "\n  -"), "the flags listed are the flags there are")
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME", "PGPASSWORD"} {
		require.Contains(t, help, v)
	}
	require.Contains(t, help, "-executor string\n    \twhat runs the tasks: local (")
	for _, gone := range []string{"planned", "redis", "temporal"} {
		require.NotContains(t, strings.ToLower(help), gone, "-h offers nothing the host does not do")
	}
}
