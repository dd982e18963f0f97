// Package hub is the per-process fan-out of task events. A store announces
// appends (taskbridge.EventStore.WatchAppends); the hub wakes only the
// readers of that task, and serves them the task's recent events from a
// bounded cache in which each event is encoded once for every transport and
// shared by all its readers.
//
// # Reading
//
// A reader follows a task by cursor (Follow, then Next in a loop): Next
// returns what exists after the cursor and advances it, or, when nothing
// does, a channel that is closed when more may exist. The channel is taken
// before the store is read, so no append between the read and the wait is
// missed; the switch from replay to live is a matter of the cursor, so a
// reader never sees a gap, a duplicate or a reordering. A slow reader never
// holds anyone up: it reads at its own pace, from the cache while it keeps
// up and from the store when it falls behind. A reader that would rather
// not hold a goroutine while it waits hands the channel to
// Follower.WakeOnChange, which calls it back at the next wake-up.
//
// A reader that keeps up costs the store nothing: the hub reads each
// announced event into the cache before it wakes the readers (on a
// goroutine per task with readers, so that a slow read of one task never
// delays the announcements of another), and once a
// read has reached the end of a task's history the hub knows the task's
// head from the announcements, so a reader at the head waits without
// asking the store. An announcement without a task (the store's
// notifications were interrupted) forgets the head, and every reader
// checks the store again.
//
// # Concurrency
//
// All methods are safe for concurrent use. Run is called once and owns the
// watch of the store; Close wakes every reader, makes Run return and marks
// the hub closed, so that the transports end their streams.
package hub

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// Defaults of Config.
const (
	DefaultCacheEvents  = 16384
	DefaultCacheBytes   = 8 << 20
	DefaultReadBatch    = 256
	DefaultReadBytes    = 1 << 20
	DefaultWakeInterval = 5 * time.Millisecond
)

// Config tunes a Hub; a zero field is its default.
type Config struct {
	// CacheEvents and CacheBytes bound the recent events cached per
	// followed task, in events and in encoded bytes; the newest event stays
	// cached whatever its size. The cache is what lets readers that fall
	// behind share one encoding of each event instead of each reading and
	// encoding its own: under overload, when every reader lags, its depth
	// decides whether delivery holds up, so the default keeps seconds of a
	// busy task (16,384 events, 8 MiB). It is held only while the task
	// has readers.
	CacheEvents, CacheBytes int
	// ReadBatch and ReadBytes bound one read from the store, in events and
	// in payload bytes (a read returns at least one event).
	ReadBatch, ReadBytes int
	// WakeInterval is the shortest time between two wake-ups of one task's
	// readers; negative means none. An event after a quiet interval wakes
	// them at once; events that come faster are delivered together at the
	// end of the interval, so that a busy task costs each follower one
	// write per interval instead of one per event.
	WakeInterval time.Duration
	// Metrics counts the followers' reads served by the cache and by the
	// store (Metrics.HubRead); nil counts nothing.
	Metrics taskbridge.Metrics
}

const shards = 64

// Hub wakes the readers of a task when its history grows.
type Hub struct {
	store  taskbridge.EventStore
	cfg    Config
	seed   maphash.Seed
	shards [shards]shard
	closed atomic.Bool
	done   chan struct{}
	once   sync.Once

	watching     chan struct{} // closed at the store's first announcement
	watchingOnce sync.Once

	refills sync.WaitGroup // the running refill goroutines; Run waits for them
}

type shard struct {
	mu    sync.Mutex
	tasks map[string]*entry
}

// entry is the hub's state for one task with readers.
type entry struct {
	refs int // guarded by the shard's mu

	mu         sync.RWMutex
	changed    chan struct{} // closed and replaced at each announcement
	cache      []*Event      // recent events with consecutive ids, oldest first
	cacheBytes int           // their encodings' size
	// head is the task's newest eventId, known once a store read reached
	// the end of the history with no announcement since; announcements
	// move it. A reader at the head then waits without reading the store.
	head      uint64
	headKnown bool
	lastWake  time.Time // of the readers
	delayed   bool      // a wake-up is scheduled
	// refillTo is the newest announced eventId; refilling says that a
	// goroutine is reading up to it and will wake the readers.
	refillTo  uint64
	refilling bool
	// parked are the readers to call at the next wake-up
	// (Follower.WakeOnChange), a list through their followers.
	parked *waiter

	fill sync.Mutex // one store read at a time per task
}

// waiter is a parked reader's place in its task's list; it lives in the
// reader's Follower and is guarded by the entry's mu.
type waiter struct {
	fn         func()
	prev, next *waiter
	linked     bool
}

// New returns a hub over the store's announcements; call Run to start it.
func New(store taskbridge.EventStore, cfg Config) *Hub {
	if cfg.CacheEvents <= 0 {
		cfg.CacheEvents = DefaultCacheEvents
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = DefaultCacheBytes
	}
	if cfg.ReadBatch <= 0 {
		cfg.ReadBatch = DefaultReadBatch
	}
	if cfg.ReadBytes <= 0 {
		cfg.ReadBytes = DefaultReadBytes
	}
	if cfg.WakeInterval == 0 {
		cfg.WakeInterval = DefaultWakeInterval
	}
	if cfg.Metrics == nil {
		cfg.Metrics = taskbridge.NopMetrics{}
	}
	h := &Hub{store: store, cfg: cfg, seed: maphash.MakeSeed(), done: make(chan struct{}), watching: make(chan struct{})}
	for i := range h.shards {
		h.shards[i].tasks = map[string]*entry{}
	}
	return h
}

// Run watches the store until ctx ends or Close is called; then it closes
// the hub and returns.
func (h *Hub) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-h.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.store.WatchAppends(ctx, func(a taskbridge.Announcement) {
		h.announce(ctx, a)
		// After the first announcement's wake-up, so that a reader that
		// starts once Watching is closed is not woken by it.
		h.watchingOnce.Do(func() { close(h.watching) })
	})
	h.Close()
	h.refills.Wait() // started only by announce, which has returned for good
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close wakes every reader and marks the hub closed. It is idempotent.
func (h *Hub) Close() {
	h.once.Do(func() {
		h.closed.Store(true)
		close(h.done)
		h.announce(context.Background(), taskbridge.Announcement{})
	})
}

// Watching is closed once the store's watch is live (its first
// announcement, which WatchAppends sends as soon as it watches): from then on
// no append is missed. A host waits for it before it serves.
func (h *Hub) Watching() <-chan struct{} { return h.watching }

// Closed reports whether the hub has shut down.
func (h *Hub) Closed() bool { return h.closed.Load() }

// Done is closed when the hub shuts down; streams watch it to end.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Notify returns a channel closed at the task's next announcement and a
// func that releases it; a long-poll waits on it (services.Notifier).
func (h *Hub) Notify(taskID string) (<-chan struct{}, func()) {
	if h.closed.Load() {
		return h.done, func() {}
	}
	e := h.acquire(taskID)
	e.mu.RLock()
	ch := e.changed
	e.mu.RUnlock()
	var once sync.Once
	return ch, func() { once.Do(func() { h.release(taskID, e) }) }
}

func (h *Hub) shard(taskID string) *shard {
	return &h.shards[maphash.String(h.seed, taskID)%shards]
}

func (h *Hub) acquire(taskID string) *entry {
	s := h.shard(taskID)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tasks[taskID]
	if !ok {
		e = &entry{changed: make(chan struct{})}
		s.tasks[taskID] = e
	}
	e.refs++
	return e
}

func (h *Hub) release(taskID string, e *entry) {
	s := h.shard(taskID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.refs--; e.refs == 0 && s.tasks[taskID] == e {
		delete(s.tasks, taskID)
	}
}

// announce wakes the readers of the announced task, or of every task for
// an announcement without a task id. Before it wakes the readers of a task
// whose recent events are cached, it reads the announced events into the
// cache: readers that keep up then find them there, instead of all missing
// the cache at once and queueing to read the store one after another. That
// read runs on a goroutine of the task's own, so that announce never waits
// for the store; announcements that come meanwhile are taken up by the
// same goroutine.
func (h *Hub) announce(ctx context.Context, a taskbridge.Announcement) {
	if a.TaskID != "" {
		s := h.shard(a.TaskID)
		s.mu.Lock()
		e := s.tasks[a.TaskID]
		s.mu.Unlock()
		if e == nil {
			return
		}
		switch e.startRefill(a.EventID) {
		case refillNone:
			e.wake(a.EventID, h.cfg.WakeInterval)
		case refillStarted:
			h.refills.Go(func() { h.refillLoop(ctx, a.TaskID, e) })
		}
		return
	}
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		all := make([]*entry, 0, len(s.tasks))
		for _, e := range s.tasks {
			all = append(all, e)
		}
		s.mu.Unlock()
		for _, e := range all {
			e.wakeAll()
		}
	}
}

// What startRefill decided.
const (
	refillNone    = iota // nothing is cached: wake the readers now
	refillStarted        // start a refill goroutine
	refillQueued         // the running refill goroutine takes it up
)

// startRefill records an announced eventId for the refill.
func (e *entry) startRefill(announced uint64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refillTo = max(e.refillTo, announced)
	switch {
	case e.refilling:
		return refillQueued
	case len(e.cache) == 0:
		return refillNone
	}
	e.refilling = true
	return refillStarted
}

// refillLoop reads the announced events into the cache and wakes the
// readers, until no announcement is left to take up.
func (h *Hub) refillLoop(ctx context.Context, taskID string, e *entry) {
	for {
		e.mu.RLock()
		to := e.refillTo
		e.mu.RUnlock()
		h.refill(ctx, taskID, to, e)
		e.wake(to, h.cfg.WakeInterval)
		e.mu.Lock()
		done := e.refillTo == to
		if done {
			e.refilling = false
		}
		e.mu.Unlock()
		if done {
			return
		}
	}
}

// refill reads the events after the cached ones up to the announced one, at
// most one batch; an empty cache is left for the readers to fill, and a
// failed read to them to retry.
func (h *Hub) refill(ctx context.Context, taskID string, announced uint64, e *entry) {
	e.fill.Lock()
	defer e.fill.Unlock()
	e.mu.RLock()
	n := len(e.cache)
	var tail uint64
	if n > 0 {
		tail = e.cache[n-1].ID
	}
	e.mu.RUnlock()
	if n == 0 || tail >= announced {
		return
	}
	stored, err := h.store.ReadAfter(ctx, taskID, tail, h.cfg.ReadBatch, h.cfg.ReadBytes)
	if err != nil || len(stored) == 0 {
		return
	}
	e.insert(encodeAll(stored), h.cfg)
}

func encodeAll(stored []taskbridge.Event) []*Event {
	encoded := make([]*Event, len(stored))
	for i, s := range stored {
		encoded[i] = Encode(s)
	}
	return encoded
}

// wake moves the known head to an announced eventId and wakes the readers,
// at once or, within interval of the last wake-up, at its end. Readers that
// call Next meanwhile find the announced events all the same.
func (e *entry) wake(announced uint64, interval time.Duration) {
	e.mu.Lock()
	e.head = max(e.head, announced)
	if e.delayed {
		e.mu.Unlock()
		return // the scheduled wake-up covers this announcement
	}
	if wait := time.Until(e.lastWake.Add(interval)); wait > 0 {
		e.delayed = true
		time.AfterFunc(wait, e.wakeDelayed)
		e.mu.Unlock()
		return
	}
	e.signalUnlock()
}

func (e *entry) wakeDelayed() {
	e.mu.Lock()
	e.delayed = false
	e.signalUnlock()
}

// wakeAll wakes the readers after an announcement without a task: appends
// may have gone unannounced, so the head is no longer known.
func (e *entry) wakeAll() {
	e.mu.Lock()
	e.headKnown = false
	e.signalUnlock()
}

// signalUnlock wakes the readers and releases e.mu, which the caller holds;
// then it calls the parked readers, which it took off the list.
func (e *entry) signalUnlock() {
	e.lastWake = time.Now()
	close(e.changed)
	e.changed = make(chan struct{})
	var parked []func()
	for w := e.parked; w != nil; {
		parked = append(parked, w.fn)
		next := w.next
		w.fn, w.prev, w.next, w.linked = nil, nil, nil, false
		w = next
	}
	e.parked = nil
	e.mu.Unlock()
	for _, fn := range parked {
		fn()
	}
}

// learnHead records head as the task's newest eventId, read from the store
// while changed was the channel to wait on; after a wake since then it
// learns nothing, as the read may be stale.
func (e *entry) learnHead(changed <-chan struct{}, head uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changed == changed {
		e.head = max(e.head, head)
		e.headKnown = true
	}
}

// Follower reads one task's events after a cursor. It is used by one
// goroutine at a time; Close releases it.
type Follower struct {
	h      *Hub
	taskID string
	e      *entry
	cursor uint64
	once   sync.Once
	parked waiter // in e's list while WakeOnChange waits
}

// Follow starts reading the task's events strictly after the cursor.
func (h *Hub) Follow(taskID string, after uint64) *Follower {
	return &Follower{h: h, taskID: taskID, e: h.acquire(taskID), cursor: after}
}

// Cursor is the id of the last event Next returned (or the starting cursor).
func (f *Follower) Cursor() uint64 { return f.cursor }

// Behind returns how many events the task has after the cursor, as far as
// the hub knows: the newest announced or cached eventId less the cursor.
func (f *Follower) Behind() uint64 {
	e := f.e
	e.mu.RLock()
	newest := max(e.refillTo, e.head)
	if n := len(e.cache); n > 0 {
		newest = max(newest, e.cache[n-1].ID)
	}
	e.mu.RUnlock()
	return newest - min(newest, f.cursor)
}

// Close releases the follower, and ends what WakeOnChange arranged. It is
// idempotent.
func (f *Follower) Close() {
	f.once.Do(func() {
		f.StopWake()
		f.h.release(f.taskID, f.e)
	})
}

// WakeOnChange arranges for fn to be called once wait, a channel Next
// returned, is closed, so that a reader can give up its goroutine instead
// of blocking on wait; when wait is closed already, fn is called at once.
// fn is called once, on the goroutine that wakes the task's readers
// (without the hub's locks), and must not block. A follower has one such
// arrangement at a time: StopWake ends it, and Next may not be called
// while it lasts.
func (f *Follower) WakeOnChange(wait <-chan struct{}, fn func()) {
	e := f.e
	e.mu.Lock()
	if wait != e.changed { // closed since: each wake-up replaces the channel
		e.mu.Unlock()
		fn()
		return
	}
	w := &f.parked
	w.fn, w.prev, w.next, w.linked = fn, nil, e.parked, true
	if e.parked != nil {
		e.parked.prev = w
	}
	e.parked = w
	e.mu.Unlock()
}

// StopWake ends the arrangement WakeOnChange made, if its fn was not
// called yet; it does nothing when there is none.
func (f *Follower) StopWake() {
	e, w := f.e, &f.parked
	e.mu.Lock()
	defer e.mu.Unlock()
	if !w.linked {
		return
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		e.parked = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.fn, w.prev, w.next, w.linked = nil, nil, nil, false
}

// Next returns up to limit events after the cursor, whose wire envelopes
// (Event.JSON) come to at most maxBytes when it is above 0 (the first one
// whatever its size), and advances the cursor. When there are none it
// returns a channel that is closed when more may exist (or the hub closes;
// after Close it returns nothing and the hub's done channel). A limit below
// 1 is 1. Errors are the store's, such as taskbridge.ErrTaskNotFound.
func (f *Follower) Next(ctx context.Context, limit, maxBytes int) ([]*Event, <-chan struct{}, error) {
	if f.h.closed.Load() {
		return nil, f.h.done, nil
	}
	limit = max(limit, 1)
	events, changed, atHead := f.e.cached(f.cursor, limit)
	if len(events) > 0 {
		f.h.cfg.Metrics.HubRead(true)
	} else if !atHead {
		var err error
		if events, changed, err = f.read(ctx, limit); err != nil {
			return nil, nil, err
		}
	}
	events = within(events, maxBytes)
	if len(events) == 0 {
		return nil, changed, nil
	}
	f.cursor = events[len(events)-1].ID
	return events, nil, nil
}

// read reads what the cache does not hold, one reader at a time per task,
// and caches it for the others.
func (f *Follower) read(ctx context.Context, limit int) ([]*Event, <-chan struct{}, error) {
	e := f.e
	e.fill.Lock()
	defer e.fill.Unlock()
	// Another reader may have filled the cache while this one waited.
	events, changed, atHead := e.cached(f.cursor, limit)
	if len(events) > 0 || atHead {
		if len(events) > 0 {
			f.h.cfg.Metrics.HubRead(true)
		}
		return events, changed, nil
	}
	batch := max(limit, f.h.cfg.ReadBatch)
	stored, err := f.h.store.ReadAfter(ctx, f.taskID, f.cursor, batch, f.h.cfg.ReadBytes)
	if err != nil {
		return nil, nil, err
	}
	if len(stored) == 0 {
		// The end of the history. (A shorter read than asked may have
		// stopped at ReadBytes instead, so only an empty one tells.)
		e.learnHead(changed, f.cursor)
		return nil, changed, nil
	}
	f.h.cfg.Metrics.HubRead(false)
	encoded := encodeAll(stored)
	e.insert(encoded, f.h.cfg)
	return encoded[:min(len(encoded), limit)], changed, nil
}

// within returns the longest run of events, at least one, whose JSON comes
// to at most maxBytes (all of them when maxBytes is 0 or less).
func within(events []*Event, maxBytes int) []*Event {
	if maxBytes <= 0 {
		return events
	}
	size := 0
	for i, e := range events {
		if size += len(e.JSON); size > maxBytes && i > 0 {
			return events[:i]
		}
	}
	return events
}

// cached returns up to limit cached events after the cursor and the channel
// to wait on, taken together under the lock; atHead says that, as far as
// the announcements tell, nothing exists after the cursor.
func (e *entry) cached(cursor uint64, limit int) (events []*Event, changed <-chan struct{}, atHead bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if n := len(e.cache); n > 0 && e.cache[0].ID <= cursor+1 && e.cache[n-1].ID > cursor {
		from := int(cursor + 1 - e.cache[0].ID)
		return e.cache[from:min(n, from+limit)], e.changed, false
	}
	return nil, e.changed, e.headKnown && cursor >= e.head
}

// insert adds events read from the store, keeping the cache consecutive and
// within the bounds of cfg.
func (e *entry) insert(events []*Event, cfg Config) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.cache)
	switch {
	case n > 0 && events[0].ID <= e.cache[n-1].ID:
		// Older than what is cached, or overlapping: keep only what is new.
		last := e.cache[n-1].ID
		i := 0
		for i < len(events) && events[i].ID <= last {
			i++
		}
		if i < len(events) && events[i].ID == last+1 {
			e.add(events[i:])
		}
	case n > 0 && events[0].ID == e.cache[n-1].ID+1:
		e.add(events)
	default:
		e.cache, e.cacheBytes = nil, 0
		e.add(events)
	}
	// Evict the oldest until the rest fits, keeping at least one. The
	// cache slides along its array, which append moves when it is full, so
	// each event is copied once at most however deep the cache. Nothing
	// already in the array is ever written again: readers hold slices of it
	// outside the lock. Evicted events stay in the array until it moves, so
	// a cache holds up to about twice its bounds.
	over := 0
	for len(e.cache)-over > 1 && (len(e.cache)-over > cfg.CacheEvents || e.cacheBytes > cfg.CacheBytes) {
		e.cacheBytes -= e.cache[over].size()
		over++
	}
	e.cache = e.cache[over:]
}

// add appends events to the cache; e.mu is held.
func (e *entry) add(events []*Event) {
	for _, ev := range events {
		e.cacheBytes += ev.size()
	}
	e.cache = append(e.cache, events...)
}
