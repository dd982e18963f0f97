package services

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// Defaults of the background services.
const (
	DefaultReconcileInterval = time.Second
	DefaultRetentionInterval = time.Second
	DefaultRetainEnded       = 24 * time.Hour
	DefaultReceiptTTL        = 24 * time.Hour
	DefaultBatch             = 100
)

// Reconciler retries resume hand-offs: every resolved or expired suspension
// whose outcome the executor has not taken yet is offered again on each
// tick, so an action accepted just before a crash still resumes its task.
// The zero value of a field is its documented default.
type Reconciler struct {
	Store    taskbridge.SuspensionStore
	Executor taskbridge.TaskExecutor
	Reporter taskbridge.Reporter
	// Interval between passes; 0 is DefaultReconcileInterval.
	Interval time.Duration
	// Batch bounds the hand-offs of one pass; 0 is DefaultBatch.
	Batch  int
	Logger *slog.Logger
	// Metrics counts the passes ("reconcile") and their hand-offs; nil
	// counts nothing.
	Metrics taskbridge.Metrics
}

// Run reconciles on every interval until ctx ends, then returns ctx's error.
func (r *Reconciler) Run(ctx context.Context) error {
	m := orNop(r.Metrics)
	return Every(ctx, orDefault(r.Interval, DefaultReconcileInterval), func(ctx context.Context) {
		m.BackgroundPass("reconcile", r.Pass(ctx))
	})
}

// Pass hands off what is pending now and returns how many it handed off.
func (r *Reconciler) Pass(ctx context.Context) int {
	log := orDiscard(r.Logger)
	pending, err := r.Store.PendingHandOffs(ctx, orDefault(r.Batch, DefaultBatch))
	if err != nil {
		passFailed(ctx, log, "listing pending hand-offs failed", err)
		return 0
	}
	done := 0
	for _, s := range pending {
		err := handOff(ctx, r.Executor, r.Reporter, r.Store, taskbridge.Resume{TaskID: s.TaskID, SuspendID: s.SuspendID, Action: s.Action})
		if err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "resume hand-off failed; retrying later",
				slog.String("taskId", s.TaskID), slog.String("suspendId", s.SuspendID), slog.Any("err", err))
			continue
		}
		done++
	}
	return done
}

// Retention expires overdue suspensions, prunes old action receipts and
// removes whole tasks a while after they ended; it never touches a live
// task's history. The zero value of a field is its documented default.
type Retention struct {
	Store taskbridge.Store
	// Interval between passes; 0 is DefaultRetentionInterval.
	Interval time.Duration
	// RetainEnded is how long an ended task stays; 0 is DefaultRetainEnded.
	RetainEnded time.Duration
	// ReceiptTTL is how long a handed-off receipt deduplicates repeats; 0 is
	// DefaultReceiptTTL.
	ReceiptTTL time.Duration
	// Batch bounds each kind of removal per pass; 0 is DefaultBatch.
	Batch int
	// Clock tells the time; nil is time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
	// Metrics counts the passes of each kind of work ("expire",
	// "prune_receipts", "remove_tasks") and what they did; nil counts
	// nothing.
	Metrics taskbridge.Metrics
}

// Run applies retention on every interval until ctx ends, then returns ctx's error.
func (r *Retention) Run(ctx context.Context) error {
	m := orNop(r.Metrics)
	return Every(ctx, orDefault(r.Interval, DefaultRetentionInterval), func(ctx context.Context) {
		p := r.Pass(ctx)
		m.BackgroundPass("expire", p.Expired)
		m.BackgroundPass("prune_receipts", p.ReceiptsPruned)
		m.BackgroundPass("remove_tasks", p.TasksRemoved)
	})
}

// RetentionPass counts what one pass did.
type RetentionPass struct {
	Expired, ReceiptsPruned, TasksRemoved int
}

// Total is everything the pass changed.
func (p RetentionPass) Total() int { return p.Expired + p.ReceiptsPruned + p.TasksRemoved }

// Pass applies retention once.
func (r *Retention) Pass(ctx context.Context) RetentionPass {
	log := orDiscard(r.Logger)
	now := time.Now()
	if r.Clock != nil {
		now = r.Clock()
	}
	batch := orDefault(r.Batch, DefaultBatch)
	var p RetentionPass
	var err error
	if p.Expired, err = r.Store.ExpireSuspensions(ctx, now, batch); err != nil {
		passFailed(ctx, log, "expiring suspensions failed", err)
	}
	if p.ReceiptsPruned, err = r.Store.PruneReceipts(ctx, now.Add(-orDefault(r.ReceiptTTL, DefaultReceiptTTL)), batch); err != nil {
		passFailed(ctx, log, "pruning receipts failed", err)
	}
	if p.TasksRemoved, err = r.Store.DeleteEndedBefore(ctx, now.Add(-orDefault(r.RetainEnded, DefaultRetainEnded)), batch); err != nil {
		passFailed(ctx, log, "removing ended tasks failed", err)
	}
	return p
}

// orNop is m, or NopMetrics when m is nil.
func orNop(m taskbridge.Metrics) taskbridge.Metrics {
	if m == nil {
		return taskbridge.NopMetrics{}
	}
	return m
}

// Every runs pass at once and then on every interval (measured from the
// end of a pass) until ctx ends; then it returns ctx's error. It is the
// loop of every background pass here, and of an executor's own (such as
// the Temporal adapter's reconciler).
func Every(ctx context.Context, interval time.Duration, pass func(context.Context)) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		pass(ctx)
		timer.Reset(interval)
	}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l
}

// passFailed logs a background pass's failed store call, unless the pass
// failed because its context ended (the process is shutting down): that is
// no error of the store's.
func passFailed(ctx context.Context, log *slog.Logger, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	log.LogAttrs(ctx, slog.LevelError, msg, slog.Any("err", err))
}
