// Package track keeps what a transport serves outside the HTTP server's
// handlers (hijacked connections, WebSocket sessions), which
// http.Server.Shutdown does not wait for, so that the transport's own
// Shutdown can.
package track

import (
	"context"
	"sync"
)

// Set holds the items being served. The zero value is ready; it is safe
// for concurrent use.
type Set[T comparable] struct {
	mu     sync.Mutex
	items  map[T]struct{} // guarded by mu
	closed bool           // guarded by mu; set by Shutdown
	wg     sync.WaitGroup // one per item added and not yet removed
}

// Add adds item, unless Shutdown was called: then it returns false and the
// caller ends the item itself.
func (s *Set[T]) Add(item T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.items == nil {
		s.items = map[T]struct{}{}
	}
	s.items[item] = struct{}{}
	s.wg.Add(1)
	return true
}

// Remove removes an item Add added, once it has ended.
func (s *Set[T]) Remove(item T) {
	s.mu.Lock()
	delete(s.items, item)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown refuses new items, asks each item to end with stop (when not
// nil) and waits until every item is removed, or until ctx ends: then it
// calls kill on the items left and returns ctx's error. Shutdown is
// idempotent and safe to call concurrently.
func (s *Set[T]) Shutdown(ctx context.Context, stop, kill func(T)) error {
	s.mu.Lock()
	s.closed = true
	if stop != nil {
		for item := range s.items {
			stop(item)
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		// Ends with the last item, which kill below bounds.
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for item := range s.items {
			kill(item)
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}
