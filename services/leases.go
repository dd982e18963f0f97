package services

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// DefaultLease is Leases.Lease when it is 0.
const DefaultLease = 30 * time.Second

// CodeExecutorLost is the failure code of a task that no executor runs any
// more: the process that ran it died, or stopped running it without
// storing its end. It is retryable.
const CodeExecutorLost = "EXECUTOR_LOST"

// lostFailure is the end of a task whose executor was lost.
var lostFailure = taskbridge.Failure{Code: CodeExecutorLost, Message: "no executor runs this task any more", Retryable: true}

// Leases keeps the lease of this process's executor in a shared store and
// ends, with TASK_FAILED CodeExecutorLost, the tasks whose executor was
// lost, whichever process ran them. A pass every sixth of Lease renews the
// lease (for two thirds of Lease), marks the tasks the executor took since
// the last pass as its own and lets go of those it dropped without ending
// them; then it claims the lost tasks and ends them. A task whose process
// died thus ends at most about Lease later, and a process may fail to
// renew for a third of Lease before its tasks are taken for lost. The zero
// value of a field is its documented default.
type Leases struct {
	Store    taskbridge.LeaseStore
	Reporter taskbridge.Reporter
	// Holder names this process's executor in the store: unique among the
	// processes that share it, and new at each start. Required.
	Holder string
	// Held lists the tasks this process's executor holds now. Required.
	Held func() []string
	// Lease bounds how long after its process died a task stays live; 0 is
	// DefaultLease.
	Lease time.Duration
	// Batch bounds the lost tasks claimed in a pass; 0 is DefaultBatch.
	Batch  int
	Logger *slog.Logger
	// Metrics counts the passes ("leases") and the lost tasks they ended;
	// nil counts nothing.
	Metrics taskbridge.Metrics

	// held are the tasks the store knows this process holds; renewed the
	// store's time of the last renewal. Both belong to the loop of Run.
	held    map[string]bool
	renewed time.Time
}

// Run renews the lease and ends lost tasks on every pass until ctx ends,
// then lets go of the tasks the executor dropped and returns ctx's error.
func (l *Leases) Run(ctx context.Context) error {
	m := orNop(l.Metrics)
	err := Every(ctx, l.lease()/6, func(ctx context.Context) { m.BackgroundPass("leases", l.Pass(ctx)) })
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.lease()/6)
	defer cancel()
	_ = l.renew(final)
	return err
}

func (l *Leases) lease() time.Duration { return orDefault(l.Lease, DefaultLease) }

// Pass renews the lease, then claims the lost tasks and ends them; it
// returns how many it ended. After a renewal that failed it claims
// nothing: a process cut off from the store must not judge the others.
func (l *Leases) Pass(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, l.lease()/6)
	defer cancel()
	previous := l.renewed
	if err := l.renew(ctx); err != nil || previous.IsZero() {
		return 0
	}
	// A lease counts as expired only if it had already expired at this
	// process's previous renewal: after an outage of the store that cut
	// every process off, the others get a pass to renew first.
	lost, err := l.Store.ClaimLostTasks(ctx, l.Holder, previous, l.lease()*2/3, orDefault(l.Batch, DefaultBatch))
	if err != nil {
		orDiscard(l.Logger).LogAttrs(ctx, slog.LevelError, "claiming lost tasks failed", slog.Any("err", err))
		return 0
	}
	ended := 0
	for _, id := range lost {
		if l.end(ctx, id) {
			ended++
		}
	}
	return ended
}

// renew renews the lease with the changes to the tasks held since the last
// renewal.
func (l *Leases) renew(ctx context.Context) error {
	now := map[string]bool{}
	var taken, released []string
	for _, id := range l.Held() {
		now[id] = true
		if !l.held[id] {
			taken = append(taken, id)
		}
	}
	for id := range l.held {
		if !now[id] {
			released = append(released, id)
		}
	}
	at, err := l.Store.RenewLease(ctx, l.Holder, l.lease()*2/3, taken, released)
	if err != nil {
		orDiscard(l.Logger).LogAttrs(ctx, slog.LevelError, "renewing the executor's lease failed",
			slog.String("holder", l.Holder), slog.Any("err", err))
		return err
	}
	l.held, l.renewed = now, at
	return nil
}

// end fails a lost task; it reports whether it did (a task that ended or
// went meanwhile needs nothing more).
func (l *Leases) end(ctx context.Context, taskID string) bool {
	err := l.Reporter.Fail(ctx, taskID, lostFailure)
	switch {
	case err == nil:
		orDiscard(l.Logger).LogAttrs(ctx, slog.LevelWarn, "ended a task whose executor was lost",
			slog.String("taskId", taskID))
		return true
	case errors.Is(err, taskbridge.ErrTaskEnded), errors.Is(err, taskbridge.ErrTaskNotFound):
		return false
	default:
		orDiscard(l.Logger).LogAttrs(ctx, slog.LevelError, "ending a lost task failed; the next pass retries it",
			slog.String("taskId", taskID), slog.Any("err", err))
		return false
	}
}
