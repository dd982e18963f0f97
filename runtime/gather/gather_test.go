package gather_test

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/runtime/gather"
)

// wrapped hides the connection it wraps from net.Buffers, as a listener's
// wrapper does; with WriteBuffers it keeps the vectored write.
type wrapped struct {
	net.Conn
	vectored int
}

func (w *wrapped) WriteBuffers(bufs *net.Buffers) (int64, error) {
	w.vectored++
	return bufs.WriteTo(w.Conn)
}

type plain struct{ net.Conn }

// TestWriteSendsEveryBufferInOrder writes through a *net.TCPConn, a wrapper
// that implements Writer and one that does not.
func TestWriteSendsEveryBufferInOrder(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)

	w := &wrapped{Conn: conn}
	require.NoError(t, gather.Write(conn, net.Buffers{[]byte("tcp "), []byte("conn|")}))
	require.NoError(t, gather.Write(w, net.Buffers{[]byte("writer "), nil, []byte("wrapper|")}))
	require.NoError(t, gather.Write(plain{conn}, net.Buffers{[]byte("other "), []byte("wrapper")}))
	require.NoError(t, conn.Close())
	require.Equal(t, "tcp conn|writer wrapper|other wrapper", <-got)
	require.Equal(t, 1, w.vectored)
}
