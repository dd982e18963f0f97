package ws_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
)

// BenchmarkWriteEvents measures one session replaying a task's events: each
// iteration subscribes from the start and reads every event frame until the
// close after the terminal event. From the cache, the task's 500 events stay
// in the hub's cache (another follower keeps it), encoded once; from the
// store, most of the 10,000 events are read from the store and encoded again
// for each replay.
func BenchmarkWriteEvents(b *testing.B) {
	for _, bc := range []struct {
		from    string
		n, size int
	}{{"cache", 500, 16}, {"cache", 500, 1 << 10}, {"store", 10_000, 16}, {"store", 10_000, 1 << 10}} {
		n, size := bc.n, bc.size
		b.Run(fmt.Sprintf("from=%s/events=%d/payload=%dB", bc.from, n, size), func(b *testing.B) {
			e := newEnv(b, ws.Settings{})
			id := e.newTask("alice")
			if bc.from == "cache" {
				pin := e.hub.Follow(id, 0)
				b.Cleanup(pin.Close)
			}
			note := strings.Repeat("x", size)
			var bytes int64
			for i := 1; i <= n; i++ {
				typ := taskbridge.EventMessage
				switch i {
				case 1:
					typ = taskbridge.EventStarted
				case n:
					typ = taskbridge.EventCompleted
				}
				ev, err := e.store.Append(b.Context(), id, appendOf(typ, note))
				if err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(ev.Payload)) + 100
			}
			b.SetBytes(bytes)
			b.ReportAllocs()
			for b.Loop() {
				c := e.dial()
				subscribe(b, c, id, nil)
				frames := 0
				for {
					_, r, err := c.NextReader()
					if err != nil {
						if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
							b.Fatal(err)
						}
						break
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						b.Fatal(err)
					}
					frames++
				}
				if frames != n+1 {
					b.Fatalf("got %d frames, want %d", frames, n+1)
				}
				_ = c.Close()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
