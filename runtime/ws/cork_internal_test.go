package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
)

// recordConn is a net.Conn that records each write.
type recordConn struct {
	net.Conn
	writes [][]byte
	fail   error
}

func (r *recordConn) SetWriteDeadline(time.Time) error { return nil }

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
	c := newCorkConn(rec, 2*time.Second)

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
	c := newCorkConn(rec, 2*time.Second)
	c.cork()
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	rec.fail = boom
	require.ErrorIs(t, c.uncork(), boom)
	rec.fail = nil
	_, err = c.Write([]byte("y"))
	require.ErrorIs(t, err, boom, "a connection whose flush failed stays failed")
}

// TestWriteTextFrames checks the frames writeText and writeEvents build,
// gathered and not, for each of the three length encodings (RFC 6455
// section 5.2).
func TestWriteTextFrames(t *testing.T) {
	t.Parallel()
	payloads := [][]byte{[]byte("{}"), bytes.Repeat([]byte("a"), 126), bytes.Repeat([]byte("b"), 70_000), []byte("[]")}
	for _, mode := range []string{"one by one", "corked", "a batch"} {
		rec := &recordConn{}
		c := newCorkConn(rec, 2*time.Second)
		wants := payloads
		switch mode {
		case "corked":
			c.cork()
			fallthrough
		case "one by one":
			for _, p := range payloads {
				require.NoError(t, c.writeText(p))
			}
			require.NoError(t, c.uncork())
		case "a batch":
			// Events carry their frames encoded once, the envelope as the payload.
			var events []*hub.Event
			wants = nil
			for _, p := range payloads {
				ev := hub.Encode(taskbridge.Event{TaskID: "t1", ID: 1, Type: taskbridge.EventMessage, Payload: p})
				events, wants = append(events, ev), append(wants, ev.JSON)
			}
			require.NoError(t, c.writeEvents(events))
			require.Empty(t, c.pending, "a batch is flushed whole")
			require.Nil(t, c.arenaBuf, "and its copies given back")
		}
		stream := bytes.Join(rec.writes, nil)
		for _, want := range wants {
			require.GreaterOrEqual(t, len(stream), 2)
			require.Equal(t, byte(0x81), stream[0], "FIN and text")
			n, head := uint64(stream[1]), 2
			switch n {
			case 126:
				n, head = uint64(binary.BigEndian.Uint16(stream[2:])), 4
			case 127:
				n, head = binary.BigEndian.Uint64(stream[2:]), 10
			}
			require.Equal(t, uint64(len(want)), n, "unmasked, with its length")
			require.Equal(t, want, stream[head:head+int(n)], mode)
			stream = stream[head+int(n):]
		}
		require.Empty(t, stream)
	}
}
