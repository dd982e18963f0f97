package load

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestFrameReaderReadsWhatTheLibraryWrites has gorilla/websocket's server
// write a small message, one that spans several frames, one larger than the
// reader's buffer and a ping between them, then a close: the reader hands
// out each message whole and in order, answers the ping and reports the
// close code.
func TestFrameReaderReadsWhatTheLibraryWrites(t *testing.T) {
	small := []byte(`{"type":"TASK_MESSAGE"}`)
	fragmented := bytes.Repeat([]byte("f"), 10_000) // the server's 4 KiB write buffer splits it
	large := bytes.Repeat([]byte("L"), 100_000)
	ponged := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{WriteBufferSize: 4096}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetPongHandler(func(data string) error { ponged <- data; return nil })
		if _, _, err := conn.ReadMessage(); err != nil { // as a TaskBridge server, wait for the subscribe frame
			return
		}
		_ = conn.WriteMessage(websocket.TextMessage, small)
		_ = conn.WriteControl(websocket.PingMessage, []byte("p1"), deadline())
		_ = conn.WriteMessage(websocket.TextMessage, fragmented)
		_ = conn.WriteMessage(websocket.BinaryMessage, large)
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "task ended"))
		for { // the pong and the close's echo arrive through reads, until the client hangs up
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)

	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	defer conn.Close()
	r := newFrameReader(conn)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"action":"subscribe"}`)))
	for _, want := range [][]byte{small, fragmented, large} {
		got, err := r.next()
		require.NoError(t, err)
		require.Equal(t, len(want), len(got))
		require.True(t, bytes.Equal(want, got))
	}
	_, err = r.next()
	require.True(t, websocket.IsCloseError(err, websocket.CloseNormalClosure), "%v", err)
	require.Equal(t, "task ended", err.(*websocket.CloseError).Text)
	select {
	case data := <-ponged:
		require.Equal(t, "p1", data, "the ping was answered")
	case <-time.After(10 * time.Second):
		t.Fatal("the ping was never answered")
	}
}

func TestFrameReaderRefusesAMaskedFrame(t *testing.T) {
	r := &frameReader{br: bufioOf([]byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2})}
	_, err := r.next()
	require.ErrorContains(t, err, "masked")
	r = &frameReader{br: bufioOf([]byte{0x80, 0x01, 'x'})}
	_, err = r.next()
	require.ErrorContains(t, err, "continuation")
}

func deadline() time.Time { return time.Now().Add(time.Second) }

func bufioOf(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
