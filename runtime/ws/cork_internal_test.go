package ws

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordConn is a net.Conn that records each write.
type recordConn struct {
	net.Conn
	writes [][]byte
	fail   error
}

func (r *recordConn) Write(p []byte) (int, error) {
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func TestCorkGathersWrites(t *testing.T) {
	t.Parallel()
	rec := &recordConn{}
	c := newCorkConn(rec, time.Second)

	_, err := c.Write([]byte("a"))
	require.NoError(t, err)
	require.Len(t, rec.writes, 1, "uncorked writes go straight through")

	c.cork()
	for _, s := range []string{"b", "c", "d"} {
		_, err := c.Write([]byte(s))
		require.NoError(t, err)
	}
	require.Len(t, rec.writes, 1, "corked writes wait for the flush")
	require.NoError(t, c.uncork())
	require.Equal(t, [][]byte{[]byte("a"), []byte("bcd")}, rec.writes)

	// A write that fills the buffer goes out with what was gathered, in order.
	c.cork()
	_, err = c.Write([]byte("e"))
	require.NoError(t, err)
	big := bytes.Repeat([]byte("f"), flushAt)
	_, err = c.Write(big)
	require.NoError(t, err)
	_, err = c.Write([]byte("g"))
	require.NoError(t, err)
	require.NoError(t, c.uncork())
	var all []byte
	for _, w := range rec.writes {
		all = append(all, w...)
	}
	require.Equal(t, "abcde"+string(big)+"g", string(all))
}

func TestCorkKeepsTheFirstError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	rec := &recordConn{}
	c := newCorkConn(rec, time.Second)
	c.cork()
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	rec.fail = boom
	require.ErrorIs(t, c.uncork(), boom)
	rec.fail = nil
	_, err = c.Write([]byte("y"))
	require.ErrorIs(t, err, boom, "a connection whose flush failed stays failed")
}
