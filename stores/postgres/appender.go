package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/taskbridge-go/taskbridge"
)

// Group commit. A transaction that NOTIFYs takes a lock that is global to
// the database cluster from its pre-commit to its end, so appends made one
// transaction each never share a commit: they queue for that lock and each
// waits for its own WAL flush. The appender instead sends the appends that
// are waiting at one moment, for any tasks, as one pipelined batch:
// PostgreSQL runs a batch up to its Sync as one implicit transaction, so
// they cost one round trip, one commit and one turn of the lock, and every
// event still NOTIFYs in the transaction that stores it.

// Tuning of the appender.
const (
	// appendWorkers is how many batches may be in flight at once: one
	// gathers while another commits.
	appendWorkers = 2
	// maxAppendBatch bounds the appends of one batch.
	maxAppendBatch = 256
)

// appendCall is one Append waiting for its batch.
type appendCall struct {
	ctx    context.Context
	taskID string
	a      taskbridge.Append
	args   pgx.NamedArgs

	// Set by the appender before done is closed.
	ev   taskbridge.Event
	err  error
	done chan struct{}
}

// appender runs the batches of a Store. Its workers start with the first
// append and end at Close.
type appender struct {
	s     *Store
	queue chan *appendCall

	start   sync.Once
	stop    context.CancelFunc
	stopped context.Context // ends at Close
	workers sync.WaitGroup
}

func newAppender(s *Store) *appender {
	ctx, cancel := context.WithCancel(context.Background())
	return &appender{s: s, queue: make(chan *appendCall), stop: cancel, stopped: ctx}
}

// do queues the call and waits for its outcome, or for ctx: then the
// append may still be made, as any statement cancelled in flight may.
func (ap *appender) do(c *appendCall) (taskbridge.Event, error) {
	ap.start.Do(func() {
		for range appendWorkers {
			ap.workers.Go(ap.work)
		}
	})
	select {
	case ap.queue <- c:
	case <-c.ctx.Done():
		return taskbridge.Event{}, fmt.Errorf("postgres: append to task %q: %w", c.taskID, c.ctx.Err())
	case <-ap.stopped.Done():
		return taskbridge.Event{}, fmt.Errorf("postgres: append to task %q: %w", c.taskID, taskbridge.ErrClosed)
	}
	select {
	case <-c.done:
		return c.ev, c.err
	case <-c.ctx.Done():
		return taskbridge.Event{}, fmt.Errorf("postgres: append to task %q: %w", c.taskID, c.ctx.Err())
	}
}

// close stops the workers once their batches in flight are done.
func (ap *appender) close() {
	ap.stop()
	ap.workers.Wait()
}

// work takes a call, and with it every call waiting at that moment, and
// appends them together, until Close.
func (ap *appender) work() {
	batch := make([]*appendCall, 0, maxAppendBatch)
	for {
		select {
		case c := <-ap.queue:
			batch = append(batch[:0], c)
		case <-ap.stopped.Done():
			return
		}
	gather:
		for len(batch) < maxAppendBatch {
			select {
			case c := <-ap.queue:
				batch = append(batch, c)
			default:
				break gather
			}
		}
		ap.run(batch)
	}
}

// run appends a batch. When a statement of it fails, the whole batch is
// rolled back: that call is then made alone, so that its error is its
// own, and the others are sent again as a batch.
func (ap *appender) run(batch []*appendCall) {
	live := batch[:0:0]
	for _, c := range batch {
		if c.ctx.Err() != nil {
			c.finish(taskbridge.Event{}, fmt.Errorf("postgres: append to task %q: %w", c.taskID, c.ctx.Err()))
			continue
		}
		live = append(live, c)
	}
	for len(live) > 0 {
		failed := ap.send(live)
		if failed < 0 {
			return
		}
		c := live[failed]
		ev, err := ap.s.appendWith(c.ctx, ap.s.pool, c.taskID, c.a)
		c.finish(ev, err)
		live = append(live[:failed], live[failed+1:]...)
	}
}

// send runs the calls as one batch and finishes them, or returns the
// index of the call whose statement failed, with nothing finished and
// nothing stored.
func (ap *appender) send(calls []*appendCall) (failed int) {
	ctx, cancel := ap.whileWaited(calls)
	defer cancel()
	b := &pgx.Batch{}
	for _, c := range calls {
		b.Queue(appendSQL, c.args)
	}
	br := ap.s.pool.SendBatch(ctx, b)
	results := make([]error, len(calls))
	events := make([]taskbridge.Event, len(calls))
	for i, c := range calls {
		var id int64
		ev := taskbridge.Event{TaskID: c.taskID, Type: c.a.Type, Payload: c.a.Payload}
		err := br.QueryRow().Scan(&id, &ev.CreatedAt)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			_ = br.Close()
			if unreachable(err) || ctx.Err() != nil {
				finishAll(calls, err)
				return -1
			}
			return i
		}
		ev.ID, ev.CreatedAt = uint64(id), ev.CreatedAt.UTC()
		events[i], results[i] = ev, err
	}
	if err := br.Close(); err != nil { // the commit failed
		finishAll(calls, err)
		return -1
	}
	for i, c := range calls {
		if results[i] == nil {
			c.finish(events[i], nil)
			continue
		}
		// Refused: find out why, outside the batch.
		ev, err := ap.s.settle(c.ctx, ap.s.pool, c.taskID, c.a, results[i])
		c.finish(ev, err)
	}
	return -1
}

// whileWaited returns a context that ends when every call's context has
// ended, or at Close: a batch is not cut while anyone waits for it.
func (ap *appender) whileWaited(calls []*appendCall) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ap.stopped)
	var waiting atomic.Int32
	waiting.Store(int32(len(calls)))
	stops := make([]func() bool, len(calls))
	for i, c := range calls {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// finishAll gives every call err.
func finishAll(calls []*appendCall, err error) {
	for _, c := range calls {
		c.finish(taskbridge.Event{}, fmt.Errorf("postgres: append to task %q: %w", c.taskID, err))
	}
}

// finish gives the call its outcome and wakes its caller.
func (c *appendCall) finish(ev taskbridge.Event, err error) {
	c.ev, c.err = ev, err
	close(c.done)
}
