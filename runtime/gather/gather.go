// Package gather writes several buffers to a connection with one system
// call, also through the wrappers a host puts around its connections. The
// transports use it to write a batch of frames, or a frame and its framing,
// without copying them together first.
package gather

import (
	"net"
	"sync"
)

// Writer is a connection that writes several buffers with one system call,
// as a *net.TCPConn does through net.Buffers. A wrapper of a connection (a
// listener's that counts connections, say) implements it to keep that
// ability, which net.Buffers cannot see through a wrapper.
type Writer interface {
	WriteBuffers(bufs *net.Buffers) (int64, error)
}

// Write writes bufs to conn with one vectored write where the connection
// can make one, and else copies them into one pooled buffer and writes
// that: one system call either way. It consumes bufs.
func Write(conn net.Conn, bufs net.Buffers) error {
	switch c := conn.(type) {
	case Writer:
		_, err := c.WriteBuffers(&bufs)
		return err
	case *net.TCPConn, *net.UnixConn:
		_, err := bufs.WriteTo(c)
		return err
	}
	joined := joinPool.Get().(*[]byte)
	defer func() {
		if cap(*joined) <= maxPooled {
			*joined = (*joined)[:0]
			joinPool.Put(joined)
		}
	}()
	for _, b := range bufs {
		*joined = append(*joined, b...)
	}
	_, err := conn.Write(*joined)
	return err
}

// maxPooled bounds the buffers the pool keeps: a rare huge batch is not
// held on to.
const maxPooled = 256 << 10

var joinPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
