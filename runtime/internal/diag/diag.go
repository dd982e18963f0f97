// Package diag is what the transports share of transport diagnostics: the
// ids of streams and the default sink, which logs.
package diag

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
)

var lastID atomic.Uint64

// NextID returns an id no other stream of this process has.
func NextID() uint64 { return lastID.Add(1) }

// Sink returns d, or when d is nil one that logs every event on log at
// debug level.
func Sink(d taskbridge.Diagnostics, log *slog.Logger) taskbridge.Diagnostics {
	if d != nil {
		return d
	}
	return logSink{log}
}

type logSink struct{ log *slog.Logger }

// With returns a Diagnostics that tells d and then m every event; d alone
// when m is nil or counts nothing.
func With(d taskbridge.Diagnostics, m taskbridge.Metrics) taskbridge.Diagnostics {
	if _, nop := m.(taskbridge.NopMetrics); nop || m == nil {
		return d
	}
	return both{d, m}
}

type both struct {
	d taskbridge.Diagnostics
	m taskbridge.Metrics
}

func (b both) StreamEvent(e taskbridge.StreamEvent) {
	b.d.StreamEvent(e)
	b.m.StreamEvent(e)
}

// StreamEvent logs e at debug level.
func (s logSink) StreamEvent(e taskbridge.StreamEvent) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("transport", e.Transport),
		slog.Uint64("conn", e.ConnID),
		slog.String("taskId", e.TaskID),
		slog.String("eventId", taskbridge.FormatEventID(e.Cursor)),
	}
	switch e.Kind {
	case taskbridge.StreamReplayed:
		attrs = append(attrs, slog.Int("events", e.Events), slog.Duration("duration", e.Duration))
	case taskbridge.StreamClosed:
		attrs = append(attrs, slog.String("reason", string(e.Reason)), slog.Int("events", e.Events), slog.Duration("duration", e.Duration))
		if e.Reason == taskbridge.StreamSlowReader {
			attrs = append(attrs, slog.Uint64("behind", e.Behind))
		}
		if e.Err != nil {
			attrs = append(attrs, slog.Any("err", e.Err))
		}
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "stream "+string(e.Kind), attrs...)
}

// Recorder keeps the events it hears, for the transports' tests. It is
// safe for concurrent use.
type Recorder struct {
	closed   chan taskbridge.StreamEvent
	mu       sync.Mutex
	opened   []taskbridge.StreamEvent
	replayed []taskbridge.StreamEvent
}

// NewRecorder returns a Recorder with room for n closes.
func NewRecorder(n int) *Recorder {
	return &Recorder{closed: make(chan taskbridge.StreamEvent, n)}
}

// StreamEvent records e.
func (r *Recorder) StreamEvent(e taskbridge.StreamEvent) {
	if e.Kind == taskbridge.StreamClosed {
		r.closed <- e
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Kind == taskbridge.StreamReplayed {
		r.replayed = append(r.replayed, e)
		return
	}
	r.opened = append(r.opened, e)
}

// Replayed returns the replays so far.
func (r *Recorder) Replayed() []taskbridge.StreamEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]taskbridge.StreamEvent(nil), r.replayed...)
}

// Closed returns the next close, waiting for it.
func (r *Recorder) Closed() taskbridge.StreamEvent { return <-r.closed }

// Opened returns the opens so far.
func (r *Recorder) Opened() []taskbridge.StreamEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]taskbridge.StreamEvent(nil), r.opened...)
}

// Replay tells the live events from the replayed ones among those a stream
// writes: the delivery lag of each live one goes to the metrics, and the
// diagnostics hear once that the replay of the history its task had when
// the stream opened is over.
type Replay struct {
	head     uint64 // the task's newest event when the stream opened
	opened   time.Time
	replayed int
	metrics  taskbridge.Metrics
	sink     taskbridge.Diagnostics
}

// NewReplay starts the replay of a stream that opens now on a task whose
// newest event is head.
func NewReplay(head uint64, m taskbridge.Metrics, d taskbridge.Diagnostics) Replay {
	return Replay{head: head, opened: time.Now(), metrics: m, sink: d}
}

// Written tells of events the stream e describes has just written, in
// order.
func (r *Replay) Written(events []*hub.Event, e taskbridge.StreamEvent) {
	now := time.Now()
	// Events carry wall-clock times only, with which Sub takes its slow
	// path (an Add and an Equal per event); the difference of the Unix
	// times is the same lag for a fraction of the cost.
	nowNanos := now.UnixNano()
	buf := lagBuffers.Get().(*[lagBatch]time.Duration)
	defer lagBuffers.Put(buf)
	lags := buf[:0]
	for _, ev := range events {
		if ev.ID > r.head {
			if len(lags) == lagBatch {
				r.metrics.EventsDelivered(e.Transport, lags)
				lags = lags[:0]
			}
			lags = append(lags, time.Duration(nowNanos-ev.CreatedAt.UnixNano()))
			continue
		}
		r.replayed++
		if ev.ID == r.head {
			e.Kind, e.Cursor, e.Events, e.Duration = taskbridge.StreamReplayed, ev.ID, r.replayed, now.Sub(r.opened)
			r.sink.StreamEvent(e)
		}
	}
	if len(lags) > 0 {
		r.metrics.EventsDelivered(e.Transport, lags)
	}
}

// lagBatch is how many delivery lags Written hands the metrics at once, at
// most. The buffers come from a pool: the metrics are an interface, so a
// buffer on the stack would escape to the heap at every write, and one per
// stream would stay with every idle stream.
const lagBatch = 64

var lagBuffers = sync.Pool{New: func() any { return new([lagBatch]time.Duration) }}
