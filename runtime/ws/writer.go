package ws

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/taskbridge-go/taskbridge/runtime/gather"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/deadline"
)

// corkConn is the hijacked connection under a *websocket.Conn. While corked,
// it gathers what is written and sends it with one vectored write when
// uncorked, so a batch of frames costs one system call instead of one per
// frame. Small frames are copied, with their headers and what the WebSocket
// library writes (which it may reuse), into one buffer taken from a pool
// for the batch and given back when it is written: the kernel takes one
// long buffer much faster than hundreds of short ones. Frames of copyBelow
// bytes or more are gathered by reference (they are the hub's shared,
// immutable encodings). Between batches a connection thus holds no copy of
// the events it sends, however slow its peer. Uncorked, writes go straight
// through. Write deadlines are passed on lazily (deadline.Lazy, with half
// the write timeout as slack). A large frame goes out in pieces, each under
// a deadline of its own, so that a slow peer that keeps reading is not cut
// in the middle of it.
type corkConn struct {
	net.Conn
	timeout time.Duration // of a write

	mu       sync.Mutex
	deadline deadline.Lazy
	corked   bool
	pending  net.Buffers // what is gathered, in order
	size     int         // its bytes
	arena    []byte      // the copied bytes pending refers to
	arenaBuf *[]byte     // the pooled buffer arena started as; nil when there is none
	tail     int         // where the last buffer of pending starts in arena; -1 when it is not there
	err      error       // the first failed flush; every later write returns it
}

// flushAt is how much a corked connection gathers before it writes anyway.
const flushAt = 64 << 10

// copyBelow is the size from which a frame is gathered by reference rather
// than copied.
const copyBelow = 16 << 10

// arenas are the buffers batches are copied into; one holds a whole batch
// (flushAt, and the frame that crosses it), and one that grew past twice
// that is left to the garbage collector.
var arenas = sync.Pool{New: func() any { b := make([]byte, 0, flushAt+copyBelow); return &b }}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.size+len(p) >= flushAt {
		// Enough gathered: write it and p together; p is written before
		// Write returns, so it need not be copied.
		c.pending = append(c.pending, p)
		c.size += len(p)
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	c.gatherCopy(p)
	return len(p), nil
}

// gatherCopy adds a copy of b to what is pending, in the same buffer as the
// copy before it when nothing came between.
func (c *corkConn) gatherCopy(b []byte) {
	if c.arenaBuf == nil {
		c.arenaBuf = arenas.Get().(*[]byte)
		c.arena = (*c.arenaBuf)[:0]
	}
	start := len(c.arena)
	c.arena = append(c.arena, b...)
	c.size += len(b)
	if c.tail >= 0 && len(c.pending) > 0 {
		c.pending[len(c.pending)-1] = c.arena[c.tail:]
		return
	}
	c.tail = start
	c.pending = append(c.pending, c.arena[start:])
}

// gatherRef adds b to what is pending without copying it.
func (c *corkConn) gatherRef(b []byte) {
	c.pending = append(c.pending, b)
	c.size += len(b)
	c.tail = -1
}

// SetWriteDeadline sets the write deadline lazily.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline.SetWriteDeadline(t)
}

// newCorkConn wraps conn, whose writes each get timeout; its deadlines may
// be up to half of it earlier than asked.
func newCorkConn(conn net.Conn, timeout time.Duration) *corkConn {
	return &corkConn{Conn: conn, timeout: timeout, tail: -1, deadline: deadline.Lazy{Slack: timeout / 2, Set: conn.SetWriteDeadline}}
}

// writeText writes payload as one final, unmasked text frame (a server's).
// payload must not change until the frame is flushed.
func (c *corkConn) writeText(payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.textLocked(payload)
}

// writeEvents writes each event's text frame, gathered as between cork and
// uncork, and flushes: the lock is taken once for the batch rather than
// once for each frame.
func (c *corkConn) writeEvents(events []*hub.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	corked := c.corked
	c.corked = true
	for _, ev := range events {
		if err := c.frameLocked(nil, ev.WS); err != nil { // encoded once, header and all
			c.corked = corked
			return err
		}
	}
	c.corked = corked
	return c.flushLocked()
}

// textLocked writes payload as a text frame.
func (c *corkConn) textLocked(payload []byte) error {
	var h [hub.MaxFrameHeader]byte
	return c.frameLocked(hub.TextFrameHeader(&h, len(payload)), payload)
}

// frameLocked writes a frame: head, copied, then body; head is empty when
// body is the whole frame.
func (c *corkConn) frameLocked(head, body []byte) error {
	if c.err != nil {
		return c.err
	}
	if len(body) >= flushAt {
		// Large: what was gathered and the header, then the frame in pieces.
		if len(head) > 0 {
			c.gatherCopy(head)
		}
		if err := c.flushLocked(); err != nil {
			return err
		}
		c.err = c.writePieces(body)
		return c.err
	}
	if len(head) > 0 {
		c.gatherCopy(head)
	}
	if len(body) < copyBelow {
		c.gatherCopy(body)
	} else {
		c.gatherRef(body)
	}
	if !c.corked || c.size >= flushAt {
		return c.flushLocked()
	}
	return nil
}

// writePieces writes b in pieces of flushAt bytes, moving the write
// deadline on before each.
func (c *corkConn) writePieces(b []byte) error {
	for len(b) > 0 {
		if err := c.deadline.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
			return err
		}
		n, err := c.Conn.Write(b[:min(len(b), flushAt)])
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// cork starts gathering writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was gathered and lets later writes through.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

// flushLocked writes what is pending with one write and forgets it: the
// references go, and the copied bytes' buffer goes back to the pool.
func (c *corkConn) flushLocked() error {
	if len(c.pending) > 0 && c.err == nil {
		c.err = gather.Write(c.Conn, c.pending)
	}
	clear(c.pending)
	c.pending, c.size, c.tail = c.pending[:0], 0, -1
	if c.arenaBuf != nil {
		if cap(c.arena) <= 2*(flushAt+copyBelow) {
			*c.arenaBuf = c.arena[:0]
			arenas.Put(c.arenaBuf)
		}
		c.arena, c.arenaBuf = nil, nil
	}
	return c.err
}

// hijacker hands the WebSocket library a corkConn when it hijacks the
// connection. It reaches the connection through http.ResponseController, so
// a ResponseWriter wrapped by middleware (with an Unwrap method) works too.
type hijacker struct {
	http.ResponseWriter
	timeout time.Duration // of a write
	conn    *corkConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = newCorkConn(c, h.timeout)
	return h.conn, brw, nil
}

// closeReq is how the session ends the connection.
type closeReq struct {
	// code is the close code to send; 0 sends no close frame.
	code int
	// reason is the close frame's reason, at most 123 bytes.
	reason string
	// badFrame says that the peer sent a frame the contract does not allow.
	badFrame bool
}
