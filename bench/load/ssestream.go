package load

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// An SSE stream is read over a connection of the load tool's own, speaking
// HTTP/1.1 itself: net/http's client copies every byte of a chunked body
// once more and runs two goroutines per connection, and the load tool takes
// in millions of events a second. The response head is parsed by net/http;
// the body, chunked or not, is read in place from one buffer.

// sse follows the task over Server-Sent Events from s.cursor.
func (c *client) sse(ctx context.Context, s *subscriber) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", errConnect, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	stamped := &stampedConn{Conn: conn}

	u := c.endpoint("/api/v1/tasks/" + s.task.id + "/events/stream")
	var head strings.Builder
	fmt.Fprintf(&head, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n", u.RequestURI(), u.Host, c.token)
	if s.cursor > 0 {
		fmt.Fprintf(&head, "Last-Event-ID: %s\r\n", cursorString(s.cursor))
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		return fmt.Errorf("%w: %v", errConnect, err)
	}
	br := bufio.NewReaderSize(stamped, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errConnect, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent: // the cursor is at the terminal event
		s.done = true
		return nil
	default:
		return fmt.Errorf("%w: status %d", errConnect, resp.StatusCode)
	}
	// The body is read from br directly; resp.Body is left alone.
	body := &bodyPieces{br: br, chunked: len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"}
	return readEvents(body, func(data []byte) error { return s.deliver(data, stamped.at) }, func() bool { return s.done })
}

// dial opens a connection to the server, with TLS for https.
func (c *client) dial(ctx context.Context) (net.Conn, error) {
	host := c.base.Host
	if c.base.Port() == "" {
		port := "80"
		if c.base.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(c.base.Hostname(), port)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil || c.base.Scheme != "https" {
		return conn, err
	}
	tc := tls.Client(conn, &tls.Config{ServerName: c.base.Hostname()})
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// readEvents splits the body into lines and hands the data of each data:
// line to deliver, until done says so or the body ends, which is an error:
// a stream that ends before its task's terminal event was cut.
func readEvents(body *bodyPieces, deliver func([]byte) error, done func() bool) error {
	var partial []byte // a line split across pieces
	for {
		piece, err := body.next()
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		for len(piece) > 0 {
			i := bytes.IndexByte(piece, '\n')
			if i < 0 {
				if len(partial)+len(piece) > maxFrame {
					return fmt.Errorf("an SSE line over %d bytes", maxFrame)
				}
				partial = append(partial, piece...)
				break
			}
			line := piece[:i]
			if len(partial) > 0 {
				partial = append(partial, line...)
				line = partial
			}
			piece = piece[i+1:]
			if data, ok := bytes.CutPrefix(line, []byte("data:")); ok { // id:, retry:, comments and blank lines aside
				if err := deliver(bytes.TrimSpace(data)); err != nil {
					return err
				}
				if done() {
					return nil
				}
			}
			partial = partial[:0]
		}
	}
}

// bodyPieces hands out an HTTP/1.1 body in pieces read in place from br:
// each piece is valid until the next call. A chunked body is unframed
// (RFC 9112 section 7.1; chunk extensions and trailers are skipped).
type bodyPieces struct {
	br      *bufio.Reader
	chunked bool
	left    int  // bytes left in the current chunk
	started bool // a chunk was read, so its CRLF comes before the next size
	pending int  // bytes handed out, discarded on the next call
}

// next returns the next piece of the body; io.EOF at its end.
func (b *bodyPieces) next() ([]byte, error) {
	if _, err := b.br.Discard(b.pending); err != nil {
		return nil, err
	}
	b.pending = 0
	limit := b.br.Size()
	if b.chunked {
		if b.left == 0 {
			size, err := b.chunkSize()
			if err != nil || size == 0 {
				return nil, cmp.Or(err, io.EOF)
			}
			b.left = size
		}
		limit = min(limit, b.left)
	}
	if b.br.Buffered() == 0 {
		if _, err := b.br.Peek(1); err != nil {
			return nil, err
		}
	}
	p, err := b.br.Peek(min(limit, b.br.Buffered()))
	if err != nil {
		return nil, err
	}
	b.pending = len(p)
	if b.chunked {
		b.left -= len(p)
	}
	return p, nil
}

// chunkSize reads the CRLF that ends the chunk before, if any, and the next
// chunk's size line.
func (b *bodyPieces) chunkSize() (int, error) {
	if b.started {
		if crlf, err := b.br.ReadSlice('\n'); err != nil || len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return 0, cmp.Or(err, errors.New("a chunk not ended by CRLF"))
		}
	}
	b.started = true
	line, err := b.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	hex, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
	size, err := strconv.ParseInt(string(bytes.TrimSpace(hex)), 16, 32)
	if err != nil || size < 0 {
		return 0, fmt.Errorf("a malformed chunk size %q", line)
	}
	return int(size), nil
}
