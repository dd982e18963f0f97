package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

var benchPayload = json.RawMessage(`{"message":"a line of progress from a long task","level":"info"}`)

func benchTask(b *testing.B, s *memory.Store, id string) {
	b.Helper()
	_, _, err := s.CreateTask(context.Background(), taskbridge.NewTask{
		ID: id, Owner: "bench", ClientRequestID: id, Type: "job",
		Input: json.RawMessage(`null`), Fingerprint: id, CreatedAt: time.Now(),
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppend appends TASK_MESSAGE events to a single task.
func BenchmarkAppend(b *testing.B) {
	s := memory.New()
	ctx := context.Background()
	benchTask(b, s, "t")
	a := taskbridge.Append{Type: taskbridge.EventMessage, Payload: benchPayload}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Append(ctx, "t", a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel appends from GOMAXPROCS goroutines, each to its
// own task, with a watcher draining the announcements.
func BenchmarkAppendParallel(b *testing.B) {
	s := memory.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.WatchAppends(ctx, func(taskbridge.Announcement) {})
	}()
	defer func() { cancel(); <-done }()
	var n atomic.Int64
	a := taskbridge.Append{Type: taskbridge.EventMessage, Payload: benchPayload}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprint("t", n.Add(1))
		benchTask(b, s, id)
		for pb.Next() {
			if _, err := s.Append(ctx, id, a); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReadAfter reads from a task of 10,000 events: a page of 100
// after a cursor in the middle, and the whole history.
func BenchmarkReadAfter(b *testing.B) {
	s := memory.New()
	ctx := context.Background()
	benchTask(b, s, "t")
	for range 10_000 {
		if _, err := s.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventMessage, Payload: benchPayload}); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		after uint64
		limit int
	}{
		{"page100", 5_000, 100},
		{"all10000", 0, 10_000},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				events, err := s.ReadAfter(ctx, "t", c.after, c.limit)
				if err != nil || len(events) != c.limit {
					b.Fatal(len(events), err)
				}
			}
		})
	}
}
