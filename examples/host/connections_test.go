package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// The host's connection caps and timeouts come from its flags: at the cap
// a new connection is closed at once while one held still gets answers, a
// stalled body is cut with 408, and an idle connection is closed.
func TestHostProtectsItsConnections(t *testing.T) {
	t.Parallel()
	h := startHost(t, "-max-conns-per-client", "2", "-body-read-timeout", "100ms", "-idle-timeout", "1s")
	addr := strings.TrimPrefix(h.base, "http://")
	open := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(guardWait))) // a hang fails; nothing is measured
		return c, bufio.NewReader(c)
	}
	health := func(c net.Conn, r *bufio.Reader) int {
		_, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(r, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}

	a, ra := open()
	require.Equal(t, http.StatusOK, health(a, ra))
	stalled, rs := open()
	_, err := io.WriteString(stalled, "POST /api/v1/tasks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer alice\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{")
	require.NoError(t, err)

	over, ro := open()
	_, err = ro.ReadByte()
	require.Error(t, err, "a third connection from this address is closed at once")
	_ = over
	require.Equal(t, http.StatusOK, health(a, ra), "a connection within the cap is still served")

	res, err := http.ReadResponse(rs, nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, res.StatusCode, "the stalled body is cut")
	_, err = ra.ReadByte()
	require.Error(t, err, "the idle connection is closed")
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "by the host, not by the test's guard: %v", err)
}

// Each caller has its own caps on open streams and on creates a second:
// past them SSE and creates answer 429 with Retry-After and a WebSocket
// subscribe closes with 1008; another caller is not affected, and a stream
// that ends gives its place back.
func TestHostLimitsEachCaller(t *testing.T) {
	t.Parallel()
	h := startHost(t, "-streams-per-subject", "2", "-creates-per-second", "0.001", "-creates-burst", "2")
	alice := h.createScripted(t, "alice", "first", step("sleepMs", 600000))
	h.createScripted(t, "alice", "second")
	over := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", map[string]any{"clientRequestId": "third", "taskType": "scripted", "input": map[string]any{"steps": []any{}}})
	details := requireEnvelope(t, over, http.StatusTooManyRequests, gen.ErrorCodeTooManyRequests)
	require.Equal(t, "createsPerSecond", details["limit"])
	require.NotEmpty(t, over.header.Get("Retry-After"))
	bob := h.createScripted(t, "bob", "first", step("sleepMs", 600000))

	path := "/api/v1/tasks/" + alice + "/events/stream"
	auth := http.Header{"Authorization": {"Bearer alice"}}
	first := h.sse(t, path, auth)
	defer first.Body.Close()
	second := h.sse(t, path, auth)
	defer second.Body.Close()
	require.Equal(t, http.StatusOK, first.StatusCode)
	require.Equal(t, http.StatusOK, second.StatusCode)
	third := h.sse(t, path, auth)
	body, err := io.ReadAll(third.Body)
	third.Body.Close()
	require.NoError(t, err)
	details = requireEnvelope(t, response{status: third.StatusCode, header: third.Header, body: body}, http.StatusTooManyRequests, gen.ErrorCodeTooManyRequests)
	require.Equal(t, "streamsPerSubject", details["limit"])
	require.Equal(t, "1", third.Header.Get("Retry-After"))

	conn := h.dialWS(t, "alice")
	require.NoError(t, conn.WriteJSON(map[string]any{"action": "subscribe", "taskId": alice}))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
	require.Contains(t, ce.Text, string(gen.ErrorCodeTooManyRequests))

	theirs := h.sse(t, "/api/v1/tasks/"+bob+"/events/stream", http.Header{"Authorization": {"Bearer bob"}})
	theirs.Body.Close()
	require.Equal(t, http.StatusOK, theirs.StatusCode, "bob has his own cap")

	first.Body.Close() // its stream ends on the host, and gives its place back
	for {
		conn := h.dialWS(t, "alice")
		require.NoError(t, conn.WriteJSON(map[string]any{"action": "subscribe", "taskId": alice}))
		var confirmed gen.SubscriptionConfirmedFrame
		if conn.ReadJSON(&confirmed) == nil {
			require.Equal(t, gen.SubscriptionConfirmedFrameTypeSubscriptionConfirmed, confirmed.Type)
			break
		}
		conn.Close()
		time.Sleep(10 * time.Millisecond) // until the host has seen the stream end
	}
}
