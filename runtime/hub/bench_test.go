package hub_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// BenchmarkFanOut appends one event per iteration to a task with many
// followers and has every follower read it: the deliveries are served from
// the hub's cache, encoded once.
func BenchmarkFanOut(b *testing.B) {
	for _, followers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("followers=%d", followers), func(b *testing.B) {
			store := memory.New()
			h := hub.New(store, hub.Config{})
			ctx := b.Context()
			_, _, err := store.CreateTask(ctx, taskbridge.NewTask{ID: "t", Owner: "o", ClientRequestID: "t", Type: "job",
				Input: json.RawMessage("null"), Fingerprint: "f", CreatedAt: time.Now()})
			if err != nil {
				b.Fatal(err)
			}
			fs := make([]*hub.Follower, followers)
			for i := range fs {
				fs[i] = h.Follow("t", 0)
				defer fs[i].Close()
			}
			payload := json.RawMessage(`{"message":"tick"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := store.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventMessage, Payload: payload}); err != nil {
					b.Fatal(err)
				}
				for _, f := range fs {
					if events, _, err := f.Next(ctx, 16, 0); err != nil || len(events) != 1 {
						b.Fatalf("read %d events, err %v", len(events), err)
					}
				}
			}
			b.ReportMetric(float64(b.N*followers)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkEncode encodes one event for every transport.
func BenchmarkEncode(b *testing.B) {
	e := taskbridge.Event{TaskID: "KEB7CGMKCSL3XMKVE7LHZ3DICX", ID: 12345, Type: taskbridge.EventProgress,
		CreatedAt: time.Now(), Payload: json.RawMessage(`{"progress":42.5,"stage":"render","message":"frame 17 of 40"}`)}
	b.ReportAllocs()
	for b.Loop() {
		hub.Encode(e)
	}
}
