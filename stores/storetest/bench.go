package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// benchPayload is a TASK_MESSAGE payload of a typical size.
var benchPayload = json.RawMessage(`{"message":"a line of progress from a long task","level":"info"}`)

// Benchmark measures the store's hot paths with the same workloads for
// every backend, so that their figures compare: keyed appends (as a
// Reporter's) to one task and to 100 tasks at once, and the replay of
// 10,000 events after a cursor in pages of 256 (the hub's read batch). Each
// reports events/s. newStore makes one store per sub-benchmark, as a
// Factory does.
func Benchmark(b *testing.B, newStore func(b *testing.B) taskbridge.Store) {
	b.Run("AppendOneTask", func(b *testing.B) {
		s := newStore(b)
		id := benchTask(b, s, "one")
		a := taskbridge.Append{Type: taskbridge.EventMessage, Payload: benchPayload}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			a.Key = benchKey(i)
			if _, err := s.Append(b.Context(), id, a); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("Append100Tasks", func(b *testing.B) {
		s := newStore(b)
		const tasks = 100
		b.SetParallelism(max(1, tasks/runtime.GOMAXPROCS(0)))
		var n atomic.Int64
		a := taskbridge.Append{Type: taskbridge.EventMessage, Payload: benchPayload}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			id := benchTask(b, s, fmt.Sprint("many-", n.Add(1)))
			a := a
			for i := 0; pb.Next(); i++ {
				a.Key = benchKey(i)
				if _, err := s.Append(context.Background(), id, a); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("Replay10000AfterCursor", func(b *testing.B) {
		s := newStore(b)
		const cursor, replay, page = 100, 10_000, 256
		id := benchTask(b, s, "long")
		for range cursor + replay {
			if _, err := s.Append(b.Context(), id, taskbridge.Append{Type: taskbridge.EventMessage, Payload: benchPayload}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			got, after := 0, uint64(cursor)
			for got < replay {
				events, err := s.ReadAfter(b.Context(), id, after, page, 0)
				if err != nil || len(events) == 0 {
					b.Fatal(len(events), err)
				}
				got += len(events)
				after = events[len(events)-1].ID
			}
		}
		b.ReportMetric(float64(b.N*replay)/b.Elapsed().Seconds(), "events/s")
	})
}

// benchKey is the i-th append's Key: appends are keyed, as the Reporter's
// are.
func benchKey(i int) string { return fmt.Sprintf("report-%020d", i) }

// benchTask creates a running task and returns its id.
func benchTask(b *testing.B, s taskbridge.Store, name string) string {
	b.Helper()
	id := fmt.Sprintf("bench-%s-%d", name, time.Now().UnixNano())
	_, _, err := s.CreateTask(context.Background(), taskbridge.NewTask{
		ID: id, Owner: "bench", ClientRequestID: id, Type: "job",
		Input: json.RawMessage(`null`), Fingerprint: id, CreatedAt: time.Now(),
	})
	if err == nil {
		_, err = s.Append(context.Background(), id, taskbridge.Append{Type: taskbridge.EventStarted, Payload: json.RawMessage(`{}`), Status: taskbridge.StatusRunning})
	}
	if err != nil {
		b.Fatal(err)
	}
	return id
}
