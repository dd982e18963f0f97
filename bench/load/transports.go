package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Transport is how subscribers follow their task.
type Transport string

// The transports of the TaskBridge protocol.
const (
	SSE      Transport = "sse"
	WS       Transport = "ws"
	LongPoll Transport = "poll"
)

// client opens streams against one server as one caller.
type client struct {
	base   *url.URL
	token  string
	http   *http.Client
	dialer *websocket.Dialer
}

func newClient(base *url.URL, token string) *client {
	// Large read buffers: a long-polling subscriber that falls behind
	// catches up with few system calls, as a real client's would. SSE and
	// WebSocket streams read through buffers of their own (ssestream.go,
	// wsframes.go); the WebSocket library's reads only the handshake.
	transport := &http.Transport{
		MaxIdleConnsPerHost: 1024,
		DisableCompression:  true,
		ReadBufferSize:      32 << 10,
	}
	return &client{
		base:  base,
		token: token,
		http:  &http.Client{Transport: transport},
		dialer: &websocket.Dialer{
			HandshakeTimeout: 30 * time.Second,
			ReadBufferSize:   4 << 10,
			WriteBufferSize:  512,
		},
	}
}

func (c *client) url(path string, query url.Values) string {
	u := c.endpoint(path)
	u.RawQuery = query.Encode()
	return u.String()
}

// endpoint is the server's URL of path, under the base URL's own path.
func (c *client) endpoint(path string) *url.URL {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return &u
}

func (c *client) streamFor(t Transport) (streamFunc, error) {
	switch t {
	case SSE:
		return c.sse, nil
	case WS:
		return c.ws, nil
	case LongPoll:
		return c.poll, nil
	}
	return nil, fmt.Errorf("unknown transport %q (sse, ws or poll)", t)
}

func cursorString(c uint64) string { return strconv.FormatUint(c, 10) }

// ws follows the task over the WebSocket endpoint from s.cursor.
func (c *client) ws(ctx context.Context, s *subscriber) error {
	u := c.endpoint("/api/v1/tasks/ws")
	u.Scheme = "ws"
	if c.base.Scheme == "https" {
		u.Scheme = "wss"
	}
	header := http.Header{"Authorization": {"Bearer " + c.token}}
	var stamped *stampedConn
	dialer := *c.dialer
	dialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		stamped = &stampedConn{Conn: conn}
		return stamped, nil
	}
	conn, resp, err := dialer.DialContext(ctx, u.String(), header)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("%w: status %d", errConnect, resp.StatusCode)
		}
		return fmt.Errorf("%w: %v", errConnect, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	subscribe := map[string]any{"action": "subscribe", "taskId": s.task.id}
	if s.cursor > 0 {
		subscribe["lastEventId"] = cursorString(s.cursor)
	}
	if err := conn.WriteJSON(subscribe); err != nil {
		return err
	}
	frames := newFrameReader(conn)
	for {
		frame, err := frames.next()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) && !s.done {
				s.done = true // the cursor was already at the terminal event
			}
			if s.done {
				return nil
			}
			return err
		}
		if err := s.deliver(frame, stamped.at); err != nil {
			return err
		}
	}
}

// Receipt times: the clock is read once per read from the network rather
// than once per event, which at millions of events a second would cost the
// load tool a tenth of its core. An event's receipt is the read that
// completed it.

// stampedConn is a connection that notes when each read returned.
type stampedConn struct {
	net.Conn
	at time.Time
}

func (s *stampedConn) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.at = time.Now()
	return n, err
}

// pollWait is how long each long-poll waits for the next event.
const pollWait = 25 * time.Second

// poll follows the task by long-polling from s.cursor.
func (c *client) poll(ctx context.Context, s *subscriber) error {
	for !s.done {
		query := url.Values{"waitTimeoutMs": {strconv.Itoa(int(pollWait.Milliseconds()))}, "maxEvents": {"500"}}
		if s.cursor > 0 {
			query.Set("afterEventId", cursorString(s.cursor))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/api/v1/tasks/"+s.task.id+"/events", query), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := c.http.Do(req)
		if err != nil {
			return fmt.Errorf("%w: %v", errConnect, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		at := time.Now()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w: status %d", errConnect, resp.StatusCode)
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("a malformed page: %v", err)
		}
		for _, e := range page.Events {
			if err := s.deliver(e, at); err != nil {
				return err
			}
		}
	}
	return nil
}
