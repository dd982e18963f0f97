package load

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/gorilla/websocket"
)

// frameReader reads the messages a WebSocket server sends straight from the
// connection under a gorilla/websocket handshake (RFC 6455 section 5): the
// load tool takes in millions of messages a second, and the library's
// reader costs an allocation and one more copy for each. A message that
// fits its buffer in one frame is handed out in place. It answers pings and
// echoes a close through the library's writer, which masks them as a
// client must.
type frameReader struct {
	conn *websocket.Conn
	br   *bufio.Reader
	skip int    // bytes of the message handed out in place, discarded on the next call
	msg  []byte // a message gathered from fragments, or too large for the buffer
	// scratch holds a header or a control frame; a field, so that reading
	// into it does not allocate.
	scratch [125]byte
}

// newFrameReader reads conn's messages. The handshake must have left no
// bytes in the library's buffer: a TaskBridge server sends nothing before
// the subscribe frame.
func newFrameReader(conn *websocket.Conn) *frameReader {
	return &frameReader{conn: conn, br: bufio.NewReaderSize(conn.NetConn(), 64<<10)}
}

// next returns the next text or binary message; it is valid until the next
// call. A close frame ends the stream with a *websocket.CloseError.
func (r *frameReader) next() ([]byte, error) {
	if _, err := r.br.Discard(r.skip); err != nil {
		return nil, err
	}
	r.skip = 0
	r.msg = r.msg[:0]
	fragmented := false
	for {
		fin, opcode, n, err := r.header()
		if err != nil {
			return nil, err
		}
		switch opcode {
		case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
			if err := r.control(opcode, n); err != nil {
				return nil, err
			}
			continue
		case 0: // continuation
			if !fragmented {
				return nil, errors.New("websocket: a continuation frame outside a message")
			}
		case websocket.TextMessage, websocket.BinaryMessage:
			if fragmented {
				return nil, errors.New("websocket: a message inside a fragmented one")
			}
		default:
			return nil, fmt.Errorf("websocket: unknown opcode %d", opcode)
		}
		if fin && !fragmented && n <= r.br.Size() {
			p, err := r.br.Peek(n)
			if err != nil {
				return nil, err
			}
			r.skip = n
			return p, nil
		}
		if len(r.msg)+n > maxFrame {
			return nil, fmt.Errorf("websocket: a message over %d bytes", maxFrame)
		}
		start := len(r.msg)
		r.msg = slices.Grow(r.msg, n)[:start+n]
		if _, err := io.ReadFull(r.br, r.msg[start:]); err != nil {
			return nil, err
		}
		if fin {
			return r.msg, nil
		}
		fragmented = true
	}
}

// header reads a frame's header: a server's frames are not masked, and no
// extension is negotiated.
func (r *frameReader) header() (fin bool, opcode, n int, err error) {
	h := r.scratch[:8]
	if _, err := io.ReadFull(r.br, h[:2]); err != nil {
		return false, 0, 0, err
	}
	fin, opcode = h[0]&0x80 != 0, int(h[0]&0x0f)
	switch {
	case h[0]&0x70 != 0:
		return false, 0, 0, errors.New("websocket: reserved bits set")
	case h[1]&0x80 != 0:
		return false, 0, 0, errors.New("websocket: a masked frame from the server")
	}
	length := uint64(h[1] & 0x7f)
	switch length {
	case 126:
		if _, err := io.ReadFull(r.br, h[:2]); err != nil {
			return false, 0, 0, err
		}
		length = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(r.br, h[:8]); err != nil {
			return false, 0, 0, err
		}
		length = binary.BigEndian.Uint64(h[:8])
	}
	if length > maxFrame {
		return false, 0, 0, fmt.Errorf("websocket: a frame of %d bytes", length)
	}
	return fin, opcode, int(length), nil
}

// control handles a control frame of n bytes: a ping is answered, a close
// is echoed and ends the stream.
func (r *frameReader) control(opcode, n int) error {
	if n > 125 {
		return errors.New("websocket: a control frame over 125 bytes")
	}
	payload := r.scratch[:n]
	if _, err := io.ReadFull(r.br, payload); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Second)
	switch opcode {
	case websocket.PingMessage:
		return r.conn.WriteControl(websocket.PongMessage, payload, deadline)
	case websocket.CloseMessage:
		code := websocket.CloseNoStatusReceived
		if n >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
		}
		echo := websocket.FormatCloseMessage(code, "")
		if code == websocket.CloseNoStatusReceived {
			echo = nil
		}
		_ = r.conn.WriteControl(websocket.CloseMessage, echo, deadline)
		return &websocket.CloseError{Code: code, Text: string(payload[min(n, 2):])}
	}
	return nil // a pong
}
