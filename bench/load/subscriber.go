package load

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Event types the load tool tells apart.
const (
	typeSuspended = "TASK_SUSPENDED"
	typeMessage   = "TASK_MESSAGE"
	typeHeartbeat = "HEARTBEAT"
)

// terminalTypes end a task's stream.
var terminalTypes = map[string]bool{"TASK_COMPLETED": true, "TASK_FAILED": true, "TASK_CANCELLED": true}

// task is one task the run created, shared by its subscribers.
type task struct {
	id string

	mu        sync.Mutex
	suspendID string // of the TASK_SUSPENDED that holds the ticks back
	lastID    uint64 // eventId of the terminal event, once a subscriber saw it
}

func (t *task) sawSuspension(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.suspendID == "" {
		t.suspendID = id
	}
}

func (t *task) sawTerminal(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastID = max(t.lastID, id)
}

func (t *task) suspension() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.suspendID
}

func (t *task) terminalID() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastID
}

// subscriber follows one task like a real client: it resumes from its cursor
// after every disconnect and counts what it received. Only its own goroutine
// touches it until the run collects the counts.
type subscriber struct {
	task   *task
	stream streamFunc
	start  <-chan struct{} // closed when the ticks are released

	started bool // start was seen closed

	ready     chan struct{} // closed once the suspension was received
	readySent bool

	cursor     uint64 // highest eventId received
	seen       []uint64
	done       bool // received the terminal event
	received   int  // events received after the start
	duplicates int
	reordered  int
	reconnects int
	connErrors int
	lastAt     time.Time              // receipt of the last event
	latencies  []int32                // µs from createdAt to receipt, of TASK_MESSAGE events after the start
	lastErr    atomic.Pointer[string] // why the last stream ended early, for reports
}

// streamFunc connects once, resuming after s.cursor, and hands every frame
// it receives to s.deliver until the stream ends. It returns nil when the
// stream ended after the terminal event, and errConnect when no stream
// could be opened at all.
type streamFunc func(ctx context.Context, s *subscriber) error

// errConnect marks a failure to open a stream (a refused connection or a
// non-success answer) as opposed to a stream that broke.
var errConnect = errors.New("could not open the stream")

// newSubscriber follows t; ticks is how many latency samples it expects,
// made room for at once rather than while the events pour in.
func newSubscriber(t *task, stream streamFunc, start <-chan struct{}, ticks int) *subscriber {
	return &subscriber{task: t, stream: stream, start: start, ready: make(chan struct{}), latencies: make([]int32, 0, ticks)}
}

// run follows the task until its terminal event or until ctx ends.
func (s *subscriber) run(ctx context.Context) {
	backoff := 10 * time.Millisecond
	for first := true; !s.done; first = false {
		if !first {
			s.reconnects++
		}
		err := s.stream(ctx, s)
		if s.done || ctx.Err() != nil {
			return
		}
		if err != nil {
			msg := err.Error()
			s.lastErr.Store(&msg)
		}
		if errors.Is(err, errConnect) {
			s.connErrors++
			select { // back off only when connecting failed
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
	}
}

// deliver takes one frame received at `at`: a task event, or a heartbeat
// or confirmation frame, which it ignores.
func (s *subscriber) deliver(frame []byte, at time.Time) error {
	env, ok := parseEnvelope(frame)
	if !ok || env.kind == nil {
		return errors.New("a frame without a type")
	}
	kind := env.kind
	if string(kind) == typeHeartbeat || env.eventID == nil {
		return nil // heartbeats and SUBSCRIPTION_CONFIRMED
	}
	id := parseEventID(env.eventID)
	if id == 0 {
		return errors.New("a malformed eventId " + strconv.Quote(string(env.eventID)))
	}
	if !s.mark(id) {
		s.duplicates++
		return nil
	}
	if id < s.cursor {
		s.reordered++
	}
	s.cursor = max(s.cursor, id)
	s.lastAt = at

	if !s.started {
		s.started = isClosed(s.start)
	}
	if s.started {
		s.received++
	}
	switch {
	case string(kind) == typeSuspended && !s.started:
		s.task.sawSuspension(field(frame, "suspendId"))
		if !s.readySent {
			s.readySent = true
			close(s.ready)
		}
	case string(kind) == typeMessage && s.started:
		created, ok := parseMicros(env.createdAt)
		if !ok {
			return errors.New("a malformed createdAt")
		}
		s.latencies = append(s.latencies, int32(min(max(at.UnixMicro()-created, 0), 1<<31-1)))
	case terminalTypes[string(kind)]:
		s.done = true
		s.task.sawTerminal(id)
	}
	return nil
}

// mark records id as received and says whether it was new.
func (s *subscriber) mark(id uint64) bool {
	word, bit := id/64, uint64(1)<<(id%64)
	for uint64(len(s.seen)) <= word {
		s.seen = append(s.seen, 0)
	}
	if s.seen[word]&bit != 0 {
		return false
	}
	s.seen[word] |= bit
	return true
}

// missing counts the eventIds 1..last this subscriber never received.
func (s *subscriber) missing(last uint64) int {
	n := 0
	for id := uint64(1); id <= last; id++ {
		word := id / 64
		if word >= uint64(len(s.seen)) || s.seen[word]&(1<<(id%64)) == 0 {
			n++
		}
	}
	return n
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// field finds the first string property name in a JSON frame and returns
// its value, or "" when there is none. TaskBridge servers write the
// envelope's type, taskId, eventId and createdAt before the payload, so the
// first match is the envelope's; suspendId is only in a suspension's
// payload. Values with escapes are not needed here and come back raw.
func field(frame []byte, name string) string {
	var key [64]byte
	k := append(append(append(key[:0], '"'), name...), `":`...)
	i := bytes.Index(frame, k)
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(frame[i+len(k):], " ")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return ""
	}
	return string(rest[1 : 1+end])
}
