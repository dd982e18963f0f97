package ws

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskbridge-go/taskbridge/gen"
)

// FuzzDecodeFrame: whatever a client sends as its first frame, decoding it
// never panics; a frame it refuses gets a 1008 or 1009 close whose reason
// fits a close frame and is UTF-8; a frame it accepts is a subscribe frame
// that encodes back to one.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"action":"subscribe","taskId":"t1"}`,
		`{"action":"subscribe","taskId":"t1","lastEventId":"4"}`,
		`{"action":"subscribe","taskId":"t1","lastEventId":null}`,
		`{"action":"unsubscribe","taskId":"t1"}`,
		`{"action":"subscribe"}`, `["subscribe"]`, `{`, ``, `null`, `"x"`,
		`{"action":"subscribe","taskId":"t1","extra":{"a":[1,2]}}`,
		"{\"action\":\"subscribe\",\"taskId\":\"\xff\"}",
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"action":"subscribe","taskId":"t1"}`), true)
	const limit = 64
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		m := inbound{data: data, binary: binary, tooBig: len(data) > limit}
		frame, c, ok := decode(m, limit)
		if !ok {
			if c.code != gen.ClosePolicyViolation && c.code != gen.CloseMessageTooBig {
				t.Fatalf("%q: close code %d", data, c.code)
			}
			if len(c.reason) > maxReason || !utf8.ValidString(c.reason) {
				t.Fatalf("%q: close reason %q does not fit a close frame", data, c.reason)
			}
			return
		}
		if binary || m.tooBig || frame.Action != gen.SubscribeFrameActionSubscribe {
			t.Fatalf("%q (binary %v) was accepted as %+v", data, binary, frame)
		}
		again, err := json.Marshal(frame)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gen.DecodeTaskStreamClientFrame(again); err != nil {
			t.Fatalf("%q was accepted, but its re-encoding %s is not a frame: %v", data, again, err)
		}
	})
}

// FuzzCorkedFrames drives the corked connection with any sequence of data
// frames of any size, control frames written whole in between (as the
// WebSocket library writes a ping, a pong or a close), corks and uncorks,
// and parses every byte it wrote with a strict RFC 6455 reader: the frames
// come out whole, in order, with minimal length encodings.
func FuzzCorkedFrames(f *testing.F) {
	f.Add([]byte{0, 10, 1, 2, 0, 200, 3})
	f.Add([]byte{2, 0, 125, 0, 126, 1, 0, 255, 3})
	f.Add([]byte{2, 0, 255, 0, 255, 0, 255, 1, 3, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		rec := &recordConn{}
		c := newCorkConn(rec, 2*time.Second)
		var want [][]byte // each frame's bytes as the peer must see them
		for i := 0; i < len(ops); i++ {
			switch ops[i] % 4 {
			case 0: // a data frame; the next byte picks its size
				size := 0
				if i+1 < len(ops) {
					i++
					size = sizeOf(ops[i])
				}
				payload := bytes.Repeat([]byte{'a' + byte(len(want)%26)}, size)
				if err := c.writeText(payload); err != nil {
					t.Fatal(err)
				}
				want = append(want, append([]byte{0x81}, payload...))
			case 1: // a control frame, written whole
				ping := []byte{0x89, 0x01, byte(len(want))}
				if _, err := c.Write(ping); err != nil {
					t.Fatal(err)
				}
				want = append(want, []byte{0x89, byte(len(want))})
			case 2:
				c.cork()
			case 3:
				if err := c.uncork(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := c.uncork(); err != nil {
			t.Fatal(err)
		}
		var wire []byte
		for _, w := range rec.writes {
			wire = append(wire, w...)
		}
		got, err := parseFrames(wire)
		if err != nil {
			t.Fatalf("ops %v: %v", ops, err)
		}
		if len(got) != len(want) {
			t.Fatalf("ops %v: %d frames, want %d", ops, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("ops %v: frame %d differs", ops, i)
			}
		}
	})
}

// sizeOf spreads a byte over the sizes that matter: the edges of each
// length encoding and of the gather buffer.
func sizeOf(b byte) int {
	edges := []int{0, 1, 125, 126, 127, 65535, 65536, 65537, flushAt - 14, flushAt - 10, flushAt, flushAt + 1, 2 * flushAt}
	if int(b) < len(edges) {
		return edges[b]
	}
	return int(b) * 97
}

// parseFrames reads server frames strictly (RFC 6455 section 5.2): FIN set,
// no RSV bits, no mask, a text or a ping opcode, the minimal length
// encoding, control payloads of at most 125 bytes. Each frame comes back as
// its opcode byte and its payload.
func parseFrames(wire []byte) ([][]byte, error) {
	var frames [][]byte
	for len(wire) > 0 {
		if len(wire) < 2 {
			return nil, fmt.Errorf("a truncated header")
		}
		b0, b1 := wire[0], wire[1]
		if b0&0x80 == 0 || b0&0x70 != 0 {
			return nil, fmt.Errorf("first byte %#x: not FIN, or RSV bits set", b0)
		}
		op := b0 & 0x0f
		if op != 0x1 && op != 0x9 {
			return nil, fmt.Errorf("opcode %#x", op)
		}
		if b1&0x80 != 0 {
			return nil, fmt.Errorf("a masked server frame")
		}
		n, head := uint64(b1&0x7f), 2
		switch n {
		case 126:
			if len(wire) < 4 {
				return nil, fmt.Errorf("a truncated length")
			}
			n, head = uint64(binary.BigEndian.Uint16(wire[2:])), 4
			if n < 126 {
				return nil, fmt.Errorf("length %d not in its minimal encoding", n)
			}
		case 127:
			if len(wire) < 10 {
				return nil, fmt.Errorf("a truncated length")
			}
			n, head = binary.BigEndian.Uint64(wire[2:]), 10
			if n <= 65535 || n>>63 != 0 {
				return nil, fmt.Errorf("length %d not in its minimal encoding", n)
			}
		}
		if op == 0x9 && n > 125 {
			return nil, fmt.Errorf("a control frame of %d bytes", n)
		}
		if uint64(len(wire)-head) < n {
			return nil, fmt.Errorf("a truncated payload")
		}
		frames = append(frames, append([]byte{b0}, wire[head:head+int(n)]...))
		wire = wire[head+int(n):]
	}
	return frames, nil
}
