// Package hub is the per-process fan-out of append announcements: a store
// announces appends (taskbridge.EventStore.WatchAppends) and the hub wakes
// only the waiters of that task.
//
// # Concurrency
//
// All methods are safe for concurrent use. Run is called once and owns the
// watch of the store; Close ends every wait and makes Run return.
package hub

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/taskbridge-go/taskbridge"
)

const shards = 64

// Hub wakes the waiters of a task when its history grows.
type Hub struct {
	store  taskbridge.EventStore
	seed   maphash.Seed
	shards [shards]shard
	closed atomic.Bool
	done   chan struct{}
	once   sync.Once
}

type shard struct {
	mu      sync.Mutex
	waiters map[string]*waiters
}

// waiters is the channel the waiters of one task share, and how many hold it.
type waiters struct {
	ch chan struct{}
	n  int
}

// New returns a hub over the store's announcements; call Run to start it.
func New(store taskbridge.EventStore) *Hub {
	h := &Hub{store: store, seed: maphash.MakeSeed(), done: make(chan struct{})}
	for i := range h.shards {
		h.shards[i].waiters = map[string]*waiters{}
	}
	return h
}

// Run watches the store until ctx ends or Close is called, then wakes every
// waiter and returns.
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
	err := h.store.WatchAppends(ctx, h.announce)
	h.Close()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close ends every current and future wait. It is idempotent.
func (h *Hub) Close() {
	h.once.Do(func() {
		h.closed.Store(true)
		close(h.done)
		h.announce(taskbridge.Announcement{})
	})
}

// Closed reports whether the hub has shut down.
func (h *Hub) Closed() bool { return h.closed.Load() }

// Notify returns a channel closed at the task's next announced append (or
// any announcement that may concern it) and a release func. Waiters of one
// task share a channel, so waking them is one close.
func (h *Hub) Notify(taskID string) (<-chan struct{}, func()) {
	if h.closed.Load() {
		return h.done, func() {}
	}
	s := &h.shards[maphash.String(h.seed, taskID)%shards]
	s.mu.Lock()
	w, ok := s.waiters[taskID]
	if !ok {
		w = &waiters{ch: make(chan struct{})}
		s.waiters[taskID] = w
	}
	w.n++
	s.mu.Unlock()
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if w.n--; w.n == 0 && s.waiters[taskID] == w {
				delete(s.waiters, taskID)
			}
		})
	}
}

// announce wakes the waiters of the announced task, or of every task for an
// announcement without a task id.
func (h *Hub) announce(a taskbridge.Announcement) {
	if a.TaskID == "" {
		for i := range h.shards {
			h.wakeAll(&h.shards[i])
		}
		return
	}
	s := &h.shards[maphash.String(h.seed, a.TaskID)%shards]
	s.mu.Lock()
	w, ok := s.waiters[a.TaskID]
	delete(s.waiters, a.TaskID)
	s.mu.Unlock()
	if ok {
		close(w.ch)
	}
}

func (h *Hub) wakeAll(s *shard) {
	s.mu.Lock()
	all := s.waiters
	s.waiters = map[string]*waiters{}
	s.mu.Unlock()
	for _, w := range all {
		close(w.ch)
	}
}
