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

	"github.com/stretchr/testify/require"
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
