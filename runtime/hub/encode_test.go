package hub_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
)

// TestEncodeFramesTheEnvelopeForEveryTransport checks each encoding of an
// event whose envelope takes each of the three WebSocket length encodings:
// the WebSocket frame is a server's text frame around the envelope, and
// shares the envelope's bytes.
func TestEncodeFramesTheEnvelopeForEveryTransport(t *testing.T) {
	for _, size := range []int{0, 200, 70_000} {
		payload, err := json.Marshal(map[string]string{"message": strings.Repeat("x", size)})
		require.NoError(t, err)
		e := hub.Encode(taskbridge.Event{TaskID: "t1", ID: 42, Type: taskbridge.EventMessage, CreatedAt: time.Unix(0, 0), Payload: payload})
		require.True(t, json.Valid(e.JSON))
		require.Equal(t, hub.EncodeJSON(e.Event), e.JSON)
		require.Equal(t, "id: 42\ndata: "+string(e.JSON)+"\n\n", string(e.SSE))

		require.Equal(t, byte(0x81), e.WS[0], "FIN and text, unmasked")
		n, head := uint64(e.WS[1]), 2
		switch n {
		case 126:
			n, head = uint64(binary.BigEndian.Uint16(e.WS[2:])), 4
		case 127:
			n, head = binary.BigEndian.Uint64(e.WS[2:]), 10
		}
		require.Equal(t, uint64(len(e.JSON)), n, "size %d", size)
		require.Len(t, e.WS, head+len(e.JSON))
		require.True(t, bytes.Equal(e.JSON, e.WS[head:]))
		require.Same(t, &e.WS[head], &e.JSON[0], "one copy of the envelope")
	}
}
