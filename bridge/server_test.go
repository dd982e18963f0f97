package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
)

// guard bounds the waits of these tests: it turns a hang into a failure
// and measures nothing.
const guard = 30 * time.Second

// serve runs a bridge with these HTTP settings through Serve on a free
// port, until the test ends, and returns its address.
func serve(t *testing.T, h HTTP) string {
	t.Helper()
	cfg := testConfig()
	cfg.HTTP = h
	b, err := New(cfg)
	require.NoError(t, err)
	e := echo.New()
	b.Mount(e)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- b.Serve(ctx, l, e) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
	})
	return l.Addr().String()
}

// dial opens a connection that the test closes when it ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(guard)))
	return c
}

// get sends GET path on c and reads the response.
func get(t *testing.T, c net.Conn, r *bufio.Reader, path string) *http.Response {
	t.Helper()
	_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return res
}

// closedByServer reports whether the server closed c: a read ends with EOF
// or a reset, not with the test's guard deadline.
func closedByServer(t *testing.T, r io.Reader) bool {
	t.Helper()
	_, err := r.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestAStalledBodyIsCut(t *testing.T) {
	t.Parallel()
	addr := serve(t, HTTP{BodyReadTimeout: 100 * time.Millisecond})
	c := dial(t, addr)
	_, err := io.WriteString(c, "POST /api/v1/tasks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer alice\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"clientReq")
	require.NoError(t, err)
	r := bufio.NewReader(c)
	res, err := http.ReadResponse(r, nil)
	require.NoError(t, err, "the server answers a body that stalled")
	body, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusRequestTimeout, res.StatusCode, "%s", body)
	require.Contains(t, string(body), "INVALID_REQUEST")
	require.True(t, res.Close)
	require.True(t, closedByServer(t, r), "and closes its connection")
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	addr := serve(t, HTTP{IdleTimeout: 100 * time.Millisecond})
	c := dial(t, addr)
	r := bufio.NewReader(c)
	require.Equal(t, http.StatusOK, get(t, c, r, "/health").StatusCode)
	require.True(t, closedByServer(t, r), "a keep-alive connection that sends nothing more is closed")
}

// A stream has no body: the body read timeout never cuts it.
func TestStreamsOutliveTheBodyReadTimeout(t *testing.T) {
	t.Parallel()
	addr := serve(t, HTTP{BodyReadTimeout: 50 * time.Millisecond})
	res, err := http.Post("http://"+addr+"/api/v1/tasks?access_token=alice", "application/json",
		strings.NewReader(`{"clientRequestId":"s","taskType":"wait"}`))
	require.NoError(t, err)
	var created struct{ TaskID string }
	require.NoError(t, decodeJSON(res, &created))
	stream, err := http.Get("http://" + addr + "/api/v1/tasks/" + created.TaskID + "/events/stream?access_token=alice")
	require.NoError(t, err)
	defer stream.Body.Close()
	lines := bufio.NewReader(stream.Body)
	readUntil(t, lines, "TASK_STARTED")
	time.Sleep(200 * time.Millisecond) // longer than the timeout; nothing is measured
	res, err = http.Post("http://"+addr+"/api/v1/tasks/"+created.TaskID+"/cancel?access_token=alice", "application/json", nil)
	require.NoError(t, err)
	res.Body.Close()
	readUntil(t, lines, "TASK_CANCELLED")
}

func decodeJSON(res *http.Response, v any) error {
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func readUntil(t *testing.T, r *bufio.Reader, what string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err, "the stream ended before %s", what)
		if strings.Contains(line, what) {
			return
		}
	}
}

func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]HTTP{
		"in all":     {MaxConnections: 3, MaxConnectionsPerClient: -1},
		"per client": {MaxConnections: -1, MaxConnectionsPerClient: 3},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := serve(t, h)
			held := make([]net.Conn, 3)
			readers := make([]*bufio.Reader, 3)
			for i := range held {
				held[i] = dial(t, addr)
				readers[i] = bufio.NewReader(held[i])
				require.Equal(t, http.StatusOK, get(t, held[i], readers[i], "/health").StatusCode)
			}
			over := dial(t, addr)
			require.True(t, closedByServer(t, over), "a connection over the cap is closed at once")
			require.Equal(t, http.StatusOK, get(t, held[0], readers[0], "/health").StatusCode, "one within the cap is still served")

			require.NoError(t, held[2].Close())
			deadline := time.Now().Add(guard)
			for {
				c := dial(t, addr)
				r := bufio.NewReader(c)
				if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: test\r\n\r\n"); err == nil {
					if res, err := http.ReadResponse(r, nil); err == nil {
						require.Equal(t, http.StatusOK, res.StatusCode, "a place freed is taken again")
						return
					}
				}
				require.True(t, time.Now().Before(deadline), "the closed connection's place never came back")
				time.Sleep(10 * time.Millisecond) // the server notices the close on its own goroutine
			}
		})
	}
}
