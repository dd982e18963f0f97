package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// Append adds the event, its status move and its suspension to the task in
// one step, stamping the next event id and CreatedAt, and announces it to
// the watchers. See taskbridge.EventStore for the errors; besides those, a
// Suspension without a TASK_SUSPENDED event or without a SuspendID is
// refused, and so is a terminal event without its own terminal status or a
// terminal status without its own event (ErrInvalidTransition).
func (s *Store) Append(ctx context.Context, taskID string, a taskbridge.Append) (taskbridge.Event, error) {
	var sus *taskbridge.Suspension
	if a.Suspension != nil {
		if a.Type != taskbridge.EventSuspended {
			return taskbridge.Event{}, fmt.Errorf("memory: a suspension comes only with a %s event, not %s", taskbridge.EventSuspended, a.Type)
		}
		if a.Suspension.SuspendID == "" {
			return taskbridge.Event{}, errors.New("memory: a suspension needs a SuspendID")
		}
		c := cloneSuspension(*a.Suspension)
		sus = &c
	}
	payload := cloneRaw(a.Payload)

	r, err := s.lock(taskID)
	if err != nil {
		return taskbridge.Event{}, err
	}
	if id, seen := r.keys[a.Key]; seen && a.Key != "" {
		ev := r.events.at(int(id - 1))
		r.mu.Unlock()
		ev.Payload = cloneRaw(ev.Payload)
		return ev, nil
	}
	ev, err := s.appendLocked(r, a.Type, payload, a.Status, sus)
	if err == nil && a.Key != "" {
		if r.keys == nil {
			r.keys = map[string]uint64{}
		}
		r.keys[a.Key] = ev.ID
	}
	r.mu.Unlock()
	if err != nil {
		return taskbridge.Event{}, err
	}
	s.announce(taskbridge.Announcement{TaskID: taskID, EventID: ev.ID})
	ev.Payload = cloneRaw(ev.Payload)
	return ev, nil
}

// appendLocked checks and applies one append; the caller holds r.mu and
// hands over payload and sus, which the record keeps. The returned event
// shares its payload with the record.
func (s *Store) appendLocked(r *record, typ taskbridge.EventType, payload json.RawMessage, status taskbridge.TaskStatus, sus *taskbridge.Suspension) (taskbridge.Event, error) {
	t := &r.task
	if t.Status.IsTerminal() {
		return taskbridge.Event{}, fmt.Errorf("task %q is %s: %w", t.ID, t.Status, taskbridge.ErrTaskEnded)
	}
	if typ.IsTerminal() && typ != taskbridge.EventCancelled && t.CancelRequested {
		return taskbridge.Event{}, fmt.Errorf("task %q refuses %s: %w", t.ID, typ, taskbridge.ErrCancelRequested)
	}
	next := t.Status
	if status != "" {
		if !t.Status.CanMoveTo(status) {
			return taskbridge.Event{}, fmt.Errorf("task %q from %s to %s: %w", t.ID, t.Status, status, taskbridge.ErrInvalidTransition)
		}
		next = status
	}
	if typ.IsTerminal() || next.IsTerminal() {
		if typ.EndStatus() != next {
			return taskbridge.Event{}, fmt.Errorf("task %q: a %s event with status %s: %w", t.ID, typ, next, taskbridge.ErrInvalidTransition)
		}
	}
	if sus != nil {
		if _, ok := r.suspensions[sus.SuspendID]; ok {
			return taskbridge.Event{}, fmt.Errorf("suspension %q of task %q: %w", sus.SuspendID, t.ID, taskbridge.ErrSuspensionExists)
		}
	}

	now := time.Now().UTC()
	if last, ok := r.events.last(); ok && now.Before(last.CreatedAt) {
		now = last.CreatedAt
	}
	ev := taskbridge.Event{TaskID: t.ID, ID: t.LastEventID + 1, Type: typ, CreatedAt: now, Payload: payload}
	r.events.add(ev)
	t.LastEventID = ev.ID
	t.Status = next
	t.UpdatedAt = now
	progress, outcome := taskbridge.Append{Type: typ, Payload: payload}.Kept()
	if progress != nil {
		t.Progress = progress
	}
	if outcome != nil {
		t.Outcome = outcome
	}

	if sus != nil {
		sus.TaskID = t.ID
		sus.State = taskbridge.SuspensionOpen
		sus.ResolvedAt, sus.Action, sus.HandedOff = time.Time{}, nil, false
		if sus.CreatedAt.IsZero() {
			sus.CreatedAt = now
		}
		sus.CreatedAt = sus.CreatedAt.UTC()
		if !sus.ExpiresAt.IsZero() {
			sus.ExpiresAt = sus.ExpiresAt.UTC()
		}
		if sus.Payload == nil {
			sus.Payload = cloneRaw(payload)
		}
		r.suspensions[sus.SuspendID] = sus
		r.opened = append(r.opened, sus.SuspendID)
		if !sus.ExpiresAt.IsZero() {
			s.idx.Lock()
			s.expiring[suspKey{t.ID, sus.SuspendID}] = sus.ExpiresAt
			s.idx.Unlock()
		}
	}
	if next.IsTerminal() {
		t.EndedAt = now
		s.idx.Lock()
		s.ended[t.ID] = now
		for _, sid := range r.opened {
			if sp := r.suspensions[sid]; sp.State == taskbridge.SuspensionOpen {
				sp.State = taskbridge.SuspensionClosed
				delete(s.expiring, suspKey{t.ID, sid})
			}
		}
		s.idx.Unlock()
	}
	return ev, nil
}

// ReadAfter returns up to limit events with ids greater than after, in
// order, within maxBytes of payload when it is above 0 (the first event
// whatever its size), or ErrTaskNotFound. A limit of zero or less returns
// none.
func (s *Store) ReadAfter(ctx context.Context, taskID string, after uint64, limit, maxBytes int) ([]taskbridge.Event, error) {
	r, err := s.lock(taskID)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	// Ids are dense from 1, so the event with id after+1 is at index after.
	head := uint64(r.events.len())
	if limit <= 0 || after >= head {
		return []taskbridge.Event{}, nil
	}
	end := head
	if uint64(limit) < head-after {
		end = after + uint64(limit)
	}
	n, size := 0, 0
	for e := range r.events.between(int(after), int(end)) {
		if maxBytes > 0 && n > 0 && size+len(e.Payload) > maxBytes {
			break
		}
		n, size = n+1, size+len(e.Payload)
	}
	// One buffer holds every payload of the batch; each payload is capped so
	// that appending to one cannot overwrite the next.
	buf := make([]byte, 0, size)
	out := make([]taskbridge.Event, 0, n)
	for e := range r.events.between(int(after), int(after)+n) {
		if e.Payload != nil {
			start := len(buf)
			buf = append(buf, e.Payload...)
			e.Payload = buf[start:len(buf):len(buf)]
		}
		out = append(out, e)
	}
	return out, nil
}

// chunkSize is how many events one chunk of an eventLog holds.
const chunkSize = 512

// eventLog is a task's history in chunks of chunkSize events, so that a long
// history grows without copying what it holds. Every chunk but the last is
// full; the first grows like a slice, so a short history stays small.
type eventLog struct {
	chunks [][]taskbridge.Event
	n      int
}

func (l *eventLog) len() int { return l.n }

func (l *eventLog) add(e taskbridge.Event) {
	k := len(l.chunks) - 1
	if k < 0 || len(l.chunks[k]) == chunkSize {
		c := []taskbridge.Event(nil)
		if k >= 0 {
			c = make([]taskbridge.Event, 0, chunkSize)
		}
		l.chunks = append(l.chunks, c)
		k++
	}
	l.chunks[k] = append(l.chunks[k], e)
	l.n++
}

// at returns the event at index i (its id less one).
func (l *eventLog) at(i int) taskbridge.Event { return l.chunks[i/chunkSize][i%chunkSize] }

func (l *eventLog) last() (taskbridge.Event, bool) {
	if l.n == 0 {
		return taskbridge.Event{}, false
	}
	c := l.chunks[len(l.chunks)-1]
	return c[len(c)-1], true
}

// between yields the events at indexes [from, to), in order.
func (l *eventLog) between(from, to int) iter.Seq[taskbridge.Event] {
	return func(yield func(taskbridge.Event) bool) {
		for i := from; i < to; {
			c := l.chunks[i/chunkSize][i%chunkSize:]
			for _, e := range c[:min(len(c), to-i)] {
				if !yield(e) {
					return
				}
			}
			i += len(c)
		}
	}
}

// WatchAppends calls fn, on the calling goroutine, once with an empty
// Announcement as soon as it watches, then after appends of any task of
// this store until ctx ends; then it returns ctx's error, and fn is not
// called any more. Announcements of one task that queue while fn runs are
// coalesced into the newest.
func (s *Store) WatchAppends(ctx context.Context, fn func(taskbridge.Announcement)) error {
	// The first announcement, with no task, says the watch is live.
	w := &watcher{queued: map[string]uint64{"": 0}, wake: make(chan struct{}, 1)}
	w.wake <- struct{}{}
	s.watchMu.Lock()
	s.watchers[w] = struct{}{}
	s.watchMu.Unlock()
	defer func() {
		s.watchMu.Lock()
		delete(s.watchers, w)
		s.watchMu.Unlock()
	}()

	batch := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wake:
		}
		w.mu.Lock()
		batch, w.queued = w.queued, batch
		w.mu.Unlock()
		for id, ev := range batch {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fn(taskbridge.Announcement{TaskID: id, EventID: ev})
		}
		clear(batch)
	}
}

// watcher is the queue of one WatchAppends call.
type watcher struct {
	mu     sync.Mutex
	queued map[string]uint64 // newest announced event id per task
	wake   chan struct{}     // holds a token while queued may be non-empty
}

// announce queues a on every watcher without blocking.
func (s *Store) announce(a taskbridge.Announcement) {
	s.watchMu.RLock()
	defer s.watchMu.RUnlock()
	for w := range s.watchers {
		w.mu.Lock()
		if a.EventID > w.queued[a.TaskID] {
			w.queued[a.TaskID] = a.EventID
		}
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}
