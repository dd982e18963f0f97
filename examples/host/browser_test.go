package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// pageScript drives the demo page in Chromium; see its head comment.
const pageScript = "web/e2e/page.mjs"

func TestPageIsServed(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	for path, contentType := range map[string]string{
		"/":                                "text/html; charset=utf-8",
		"/app.js":                          "text/javascript; charset=utf-8",
		"/style.css":                       "text/css; charset=utf-8",
		"/taskbridge/index.js":             "text/javascript; charset=utf-8",
		"/taskbridge/follow.js":            "text/javascript; charset=utf-8",
		"/taskbridge/generated/streams.js": "text/javascript; charset=utf-8",
	} {
		r := h.do(t, http.MethodGet, path, "", "", nil) // no credentials: the page is public
		require.Equal(t, http.StatusOK, r.status, path)
		require.Equal(t, contentType, r.header.Get("Content-Type"), path)
		require.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'", path)
		require.NotEmpty(t, r.body, path)
	}
	// The page's routes are the host's: Echo's own error handler answers
	// them, and the API's routes keep the envelope.
	for _, c := range []struct {
		method, path string
		status       int
	}{{http.MethodPost, "/", http.StatusMethodNotAllowed}, {http.MethodGet, "/index.html", http.StatusNotFound}} {
		r := h.do(t, c.method, c.path, "", "", nil)
		require.Equal(t, c.status, r.status, c.path)
		require.NotContains(t, string(r.body), `"code"`, "%s %s is not the API's: %s", c.method, c.path, r.body)
	}
	requireEnvelope(t, h.do(t, http.MethodGet, "/api/v1/tasks/x", "", "", nil), http.StatusUnauthorized, gen.ErrorCodeAuthenticationError)
}

// pageResult is what page.mjs prints: what the page showed in its DOM, its
// taskbridgeDemo object, and what the scenario did.
type pageResult struct {
	TaskID           string   `json:"taskId"`
	Status           string   `json:"status"`
	Transport        string   `json:"transport"`
	Progress         float64  `json:"progress"`
	SuspensionHidden bool     `json:"suspensionHidden"`
	CancelDisabled   bool     `json:"cancelDisabled"`
	StartDisabled    bool     `json:"startDisabled"`
	Transports       []string `json:"transports"`
	Events           []struct {
		EventID   string `json:"eventId"`
		Type      string `json:"type"`
		Transport string `json:"transport"`
		Summary   string `json:"summary"`
	} `json:"events"`
	Demo struct {
		TaskID     string            `json:"taskId"`
		Transports []string          `json:"transports"`
		Events     []json.RawMessage `json:"events"`
	} `json:"demo"`
	Acted struct {
		Offered              []string `json:"offered"`
		Clicked              string   `json:"clicked"`
		SuspendID            string   `json:"suspendId"`
		StatusWhileSuspended string   `json:"statusWhileSuspended"`
	} `json:"acted"`
	Forced struct {
		WebSocket *struct {
			Connections     int  `json:"connections"`
			Forwarded       int  `json:"forwarded"`
			HeartbeatsAdded int  `json:"heartbeatsAdded"`
			Cut             bool `json:"cut"`
			ClosedEarly     int  `json:"closedEarly"`
		} `json:"websocket"`
		SSE *struct {
			Aborted int `json:"aborted"`
		} `json:"sse"`
	} `json:"forced"`
	PageErrors []string `json:"pageErrors"`
}

// shownBy counts the events the page shows as delivered by transport.
func (r pageResult) shownBy(transport string) int {
	n := 0
	for _, e := range r.Events {
		if e.Transport == transport {
			n++
		}
	}
	return n
}

// browserTools returns node and the absolute path of page.mjs. Without
// Chromium, node or playwright-core the test is skipped, except in CI
// (CI set), where it fails: CI must never skip it.
func browserTools(t *testing.T) (node, script string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (apt-get install chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join("..", "..", "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "node_modules/playwright-core (npm ci at the repository root)")
	}
	if len(missing) > 0 {
		msg := "the browser test needs " + strings.Join(missing, ", ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must not skip it")
		}
		t.Skip(msg)
	}
	script, err = filepath.Abs(pageScript)
	require.NoError(t, err)
	return node, script
}

// runPage runs one scenario of page.mjs against h as subject token.
func runPage(t *testing.T, h *host, node, script, scenario, token string) pageResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a guard against a hang only
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, scenario, h.base, token)
	cmd.Env = append(os.Environ(), "TASKBRIDGE_CHROMIUM="+chromiumPath)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("page.mjs %s ran %v", scenario, time.Since(start).Round(time.Millisecond))
	if stderr.Len() > 0 {
		t.Logf("its log:\n%s", stderr.String())
	}
	require.NoError(t, err, "page.mjs %s failed; see its log above", scenario)
	var res pageResult
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), "page.mjs printed: %s", stdout.String())
	require.Empty(t, res.PageErrors, "uncaught errors in the page")
	return res
}

// requireShownIsTheStream checks that the page showed exactly the task's
// stream, read back by long-polling: the same eventIds and types in the same
// order, none missing, none twice, no heartbeat; that every event the page
// kept is valid and equal to the stream's; and that the page's state agrees
// with the stream's end. It returns the stream.
func requireShownIsTheStream(t *testing.T, h *host, token string, res pageResult) []wireEvent {
	t.Helper()
	require.NotEmpty(t, res.TaskID, "the page shows the task id")
	require.Equal(t, res.TaskID, res.Demo.TaskID)
	stream := h.follow(t, token, res.TaskID) // each event checked against the reference schema

	want := make([]string, len(stream))
	for i, e := range stream {
		want[i] = e.EventID + " " + e.Type
	}
	got := make([]string, len(res.Events))
	for i, e := range res.Events {
		got[i] = e.EventID + " " + e.Type
	}
	require.Equal(t, want, got, "the events the page shows are the task's stream")

	require.Len(t, res.Demo.Events, len(stream), "taskbridgeDemo keeps what the DOM shows")
	for i, raw := range res.Demo.Events {
		e := checkEvent(t, res.TaskID, raw)
		require.Equal(t, stream[i].EventID, e.EventID)
		require.Equal(t, stream[i].Type, e.Type)
		require.Equal(t, stream[i].CreatedAt, e.CreatedAt)
		require.JSONEq(t, string(stream[i].Payload), string(e.Payload), "payload of event %s", e.EventID)
	}

	last := stream[len(stream)-1]
	require.Equal(t, map[string]string{
		"TASK_COMPLETED": "COMPLETED", "TASK_FAILED": "FAILED", "TASK_CANCELLED": "CANCELLED",
	}[last.Type], res.Status, "the status shown is the terminal event's")
	progress := 0.0
	for _, e := range stream {
		if e.Type == "TASK_PROGRESS" {
			var p gen.TaskProgressPayload
			require.NoError(t, json.Unmarshal(e.Payload, &p))
			progress = float64(p.Progress)
		}
	}
	require.Equal(t, progress, res.Progress, "the progress shown is the last TASK_PROGRESS")

	require.Equal(t, res.Demo.Transports, res.Transports, "the transport history shown is taskbridgeDemo's")
	require.Equal(t, res.Transports[len(res.Transports)-1], res.Transport, "the transport shown is the last one used")
	for _, e := range res.Events {
		require.Contains(t, res.Transports, e.Transport, "event %s came over a transport the page used", e.EventID)
	}
	require.True(t, res.SuspensionHidden, "no suspension is offered after the end")
	require.True(t, res.CancelDisabled, "Cancel is off after the end")
	require.False(t, res.StartDisabled, "a new task can be started after the end")
	t.Logf("shown %d events, transports %v", len(res.Events), res.Transports)
	return stream
}

var uuid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// requireAnswered checks that the page offered the suspension's allowed
// actions and that the click was accepted into the stream.
func requireAnswered(t *testing.T, stream []wireEvent, res pageResult) {
	t.Helper()
	var suspended gen.TaskSuspendedPayload
	var accepted *gen.TaskActionAcceptedPayload
	for _, e := range stream {
		switch e.Type {
		case "TASK_SUSPENDED":
			require.NoError(t, json.Unmarshal(e.Payload, &suspended))
		case "TASK_ACTION_ACCEPTED":
			accepted = &gen.TaskActionAcceptedPayload{}
			require.NoError(t, json.Unmarshal(e.Payload, accepted))
		}
	}
	require.Equal(t, []string{"approve", "reject"}, suspended.AllowedActions)
	require.Equal(t, suspended.AllowedActions, res.Acted.Offered, "the page offers the allowed actions")
	require.Equal(t, suspended.SuspendId, res.Acted.SuspendID)
	require.Contains(t, res.Acted.StatusWhileSuspended, "waiting for you")
	require.NotNil(t, accepted, "the click was accepted")
	require.Equal(t, suspended.SuspendId, accepted.SuspendId)
	require.Equal(t, res.Acted.Clicked, accepted.ActionType)
	require.Regexp(t, uuid, accepted.ClientActionId, "a fresh random clientActionId")
	require.Equal(t, "TASK_COMPLETED", stream[len(stream)-1].Type)
	require.JSONEq(t, `{"result":{"published":true}}`, string(stream[len(stream)-1].Payload))
}

// TestBrowser drives the demo page in headless Chromium: it checks that
// the events shown are exactly the task's stream, that the suspension can be
// answered and the task cancelled, and that a WebSocket cut mid-stream and
// then failing falls back to SSE, and a failing SSE on to long-polling,
// without losing or doubling an event. The page follows with the client
// package (clients/ts), so this is also that package in a real browser.
func TestBrowser(t *testing.T) {
	t.Parallel()
	node, script := browserTools(t)

	t.Run("answer the suspension", func(t *testing.T) {
		h := startHost(t)
		res := runPage(t, h, node, script, "approve", "browser-approve")
		stream := requireShownIsTheStream(t, h, "browser-approve", res)
		requireAnswered(t, stream, res)
		require.Equal(t, []string{"websocket"}, res.Transports)
		require.Equal(t, len(stream), res.shownBy("websocket"))
	})

	t.Run("cancel", func(t *testing.T) {
		h := startHost(t)
		res := runPage(t, h, node, script, "cancel", "browser-cancel")
		stream := requireShownIsTheStream(t, h, "browser-cancel", res)
		last := stream[len(stream)-1]
		require.Equal(t, "TASK_CANCELLED", last.Type)
		var p gen.TaskCancelledPayload
		require.NoError(t, json.Unmarshal(last.Payload, &p))
		require.Equal(t, "cancelled_by_user", p.Reason)
		require.Equal(t, []string{"websocket"}, res.Transports)
	})

	t.Run("WebSocket cut mid-stream, then failing, falls back to SSE", func(t *testing.T) {
		h := startHost(t)
		res := runPage(t, h, node, script, "websocket-failure", "browser-ws-cut")
		stream := requireShownIsTheStream(t, h, "browser-ws-cut", res)
		requireAnswered(t, stream, res)
		ws := res.Forced.WebSocket
		require.NotNil(t, ws)
		require.True(t, ws.Cut, "the WebSocket was cut before the end")
		require.Positive(t, ws.ClosedEarly, "the page tried the WebSocket again after the cut")
		require.Equal(t, 1+ws.ClosedEarly, ws.Connections)
		require.Equal(t, 1, ws.HeartbeatsAdded, "a HEARTBEAT frame reached the page (and was not shown)")
		require.Equal(t, []string{"websocket", "sse"}, res.Transports)
		require.Equal(t, ws.Forwarded, res.shownBy("websocket"), "every event the WebSocket delivered is shown")
		require.Equal(t, len(stream)-ws.Forwarded, res.shownBy("sse"), "SSE delivered the rest")
		require.Positive(t, res.shownBy("sse"))
	})

	t.Run("WebSocket cut and failing, and SSE failing, fall back to polling", func(t *testing.T) {
		h := startHost(t)
		res := runPage(t, h, node, script, "sse-failure", "browser-sse-fails")
		stream := requireShownIsTheStream(t, h, "browser-sse-fails", res)
		requireAnswered(t, stream, res)
		ws, sse := res.Forced.WebSocket, res.Forced.SSE
		require.NotNil(t, ws)
		require.NotNil(t, sse)
		require.True(t, ws.Cut)
		require.Positive(t, sse.Aborted, "the page tried SSE")
		require.Equal(t, []string{"websocket", "sse", "poll"}, res.Transports)
		require.Equal(t, ws.Forwarded, res.shownBy("websocket"))
		require.Zero(t, res.shownBy("sse"))
		require.Equal(t, len(stream)-ws.Forwarded, res.shownBy("poll"), "polling delivered the rest")
		require.Positive(t, res.shownBy("poll"))
	})
}
