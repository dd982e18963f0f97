package ws

import (
	"bufio"
	"encoding/binary"
	"math"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/taskbridge-go/taskbridge/runtime/gather"
	"github.com/taskbridge-go/taskbridge/runtime/internal/deadline"
)

// corkConn is the hijacked connection under a *websocket.Conn. While corked,
// it gathers what is written and sends it with one vectored write when
// uncorked, so a batch of frames costs one system call instead of one per
// frame. It gathers frames by reference (they are the hub's shared,
// immutable encodings), and copies only the small things: frame headers and
// what the WebSocket library writes, which it may reuse. A corked
// connection thus holds no copy of the events it sends, however slow its
// peer. Uncorked, writes go straight through. Write deadlines are passed on
// lazily (deadline.Lazy, with half the write timeout as slack). A large
// frame goes out in pieces, each under a deadline of its own, so that a
// slow peer that keeps reading is not cut in the middle of it.
type corkConn struct {
	net.Conn
	timeout time.Duration // of a write

	mu       sync.Mutex
	deadline deadline.Lazy
	corked   bool
	pending  net.Buffers // what is gathered, in order
	size     int         // its bytes
	arena    []byte      // the copied bytes pending refers to
	tail     int         // where the last buffer of pending starts in arena; -1 when it is not there
	err      error       // the first failed flush; every later write returns it
}

// flushAt is how much a corked connection gathers before it writes anyway.
const flushAt = 64 << 10

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
	var head [10]byte
	head[0] = 0x81 // FIN, text
	n := 2
	switch l := len(payload); {
	case l < 126:
		head[1] = byte(l)
	case l <= math.MaxUint16:
		head[1] = 126
		binary.BigEndian.PutUint16(head[2:], uint16(l))
		n = 4
	default:
		head[1] = 127
		binary.BigEndian.PutUint64(head[2:], uint64(l))
		n = 10
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if len(payload) >= flushAt {
		// Large: what was gathered and the header, then the frame in pieces.
		c.gatherCopy(head[:n])
		if err := c.flushLocked(); err != nil {
			return err
		}
		c.err = c.writePieces(payload)
		return c.err
	}
	c.gatherCopy(head[:n])
	c.gatherRef(payload)
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
// references go, and the arena is kept for the next batch unless it grew
// large.
func (c *corkConn) flushLocked() error {
	if len(c.pending) > 0 && c.err == nil {
		c.err = gather.Write(c.Conn, c.pending)
	}
	clear(c.pending)
	c.pending, c.size, c.tail = c.pending[:0], 0, -1
	if cap(c.arena) > flushAt {
		c.arena = nil
	} else {
		c.arena = c.arena[:0]
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

// closeReq is how the session ends the connection; it is handed to the
// writer once.
type closeReq struct {
	// code is the close code to send; 0 sends no close frame.
	code int
	// reason is the close frame's reason, at most 123 bytes.
	reason string
	// drain writes every queued frame before the close frame.
	drain bool
	// cut closes the connection at once, without a close frame: the peer
	// does not read, so nothing could reach it.
	cut bool
	// badFrame says that the peer sent a frame the contract does not allow.
	badFrame bool
}

// write is the connection's only writer of data frames: it takes every
// frame queued at each wake-up and writes them under one flush, pings the
// peer, and finally writes the close frame the session asks for. It ends
// after the close request or at the first failed write. When a whole ping
// interval passed without a frame, it lets the queue drop its arrays.
func (ss *session) write() {
	defer close(ss.writerDone)
	ping := time.NewTicker(ss.cfg.PingInterval)
	defer ping.Stop()
	wrote := false // since the last ping
	for {
		select {
		case <-ss.queue.ready:
			if err := ss.writeBatch(); err != nil {
				ss.writeErr = err
				return
			}
			wrote = true
			// Let every other connection write before this one writes
			// again: under load, a writer that went straight back for more
			// would keep finding some while those behind it wait.
			runtime.Gosched()
		case <-ping.C:
			if !wrote {
				ss.queue.release()
			}
			wrote = false
			if err := ss.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(ss.cfg.WriteTimeout)); err != nil {
				ss.writeErr = err
				return
			}
		case c := <-ss.closing:
			if c.drain {
				if err := ss.writeBatch(); err != nil {
					ss.writeErr = err
					return
				}
			}
			if c.code != 0 {
				msg := websocket.FormatCloseMessage(c.code, c.reason)
				if err := ss.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(ss.cfg.WriteTimeout)); err != nil {
					ss.writeErr = err
					return
				}
				ss.closeSent = true
			}
			return
		}
	}
}

// writeBatch writes every frame queued and flushes them together; then it
// tells the session there is room.
func (ss *session) writeBatch() error {
	batch := ss.queue.take()
	if len(batch) == 0 {
		return nil
	}
	defer ss.queue.done(batch)
	// One deadline for the batch: it is written when uncorked, or in
	// pieces that move it on.
	if err := ss.cork.SetWriteDeadline(time.Now().Add(ss.cfg.WriteTimeout)); err != nil {
		return err
	}
	ss.cork.cork()
	var err error
	for _, frame := range batch {
		if err = ss.writeFrame(frame.data); err != nil {
			break
		}
	}
	if ferr := ss.cork.uncork(); err == nil {
		err = ferr
	}
	if err == nil {
		now := time.Now()
		for _, frame := range batch {
			if !frame.appended.IsZero() {
				ss.cfg.Metrics.EventDelivered("websocket", now.Sub(frame.appended))
			}
		}
	}
	select {
	case ss.room <- struct{}{}:
	default:
	}
	return err
}

// writeFrame writes one text message. The frame is built here rather than
// by the WebSocket library, which would cost a writer, a flush and a lock
// per frame; the library still writes the control frames, each with one
// Write, so frames never interleave.
func (ss *session) writeFrame(frame []byte) error {
	defer ss.queued.Add(-int64(len(frame)))
	return ss.cork.writeText(frame)
}
