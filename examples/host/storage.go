package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/local"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/stores/memory"
	"github.com/taskbridge-go/taskbridge/stores/postgres"
)

// storage is the store the host runs on, with what comes with it.
type storage struct {
	store taskbridge.Store
	// probes report the store's health on /ready.
	probes []taskbridge.ReadinessProbe
	// prepare, when set, makes the store usable; it runs in the background
	// until it succeeds or its ctx ends.
	prepare func(ctx context.Context)
	// shared says that other replicas may use the same store.
	shared bool
	close  func()
}

// openStorage opens the store -store names. It does not wait for a
// database: a host whose database is down starts, and says so on /ready.
func openStorage(o options, log *slog.Logger) (storage, error) {
	if o.store != "postgres" {
		return storage{store: memory.New(), close: func() {}}, nil
	}
	pg, err := postgres.Open(postgres.Config{URL: o.postgresURL, Schema: o.postgresSchema, Logger: log})
	if err != nil {
		return storage{}, err
	}
	return storage{
		store:   pg,
		probes:  []taskbridge.ReadinessProbe{pg},
		prepare: func(ctx context.Context) { migrate(ctx, pg, log) },
		shared:  true,
		close:   pg.Close,
	}, nil
}

// migrate brings the database schema up to date, retrying with backoff
// while the database cannot be reached.
func migrate(ctx context.Context, pg *postgres.Store, log *slog.Logger) {
	delay := 500 * time.Millisecond
	for {
		applied, err := pg.Migrate(ctx)
		if err == nil {
			log.Info("database schema is up to date", "applied", applied)
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Error("database unavailable; /ready answers 503 until it is reachable", "err", err, "retryIn", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// errNotHere: the local executor of this replica does not run the task.
var errNotHere = errors.New("the task does not run on this replica")

// replicaExecutor is the local executor of one replica among several that
// share a store. A task it does not run may well run on another replica, so
// its "not running" must not make the services end the task as lost: a
// resume is left to the reconciler of the replica that runs the task, and a
// cancel ends the task in the store at once (the replica that runs it finds
// out at its next report).
type replicaExecutor struct{ *local.Executor }

// Cancel asks this replica's executor to stop the task.
func (e replicaExecutor) Cancel(ctx context.Context, taskID string) error {
	return notHere(e.Executor.Cancel(ctx, taskID))
}

// Resume hands the outcome to this replica's executor, if it runs the task.
func (e replicaExecutor) Resume(ctx context.Context, r taskbridge.Resume) error {
	return notHere(e.Executor.Resume(ctx, r))
}

func notHere(err error) error {
	if errors.Is(err, taskbridge.ErrTaskNotRunning) {
		return fmt.Errorf("%w: %v", errNotHere, err)
	}
	return err
}

// hubProbe reports on /ready whether the hub watches the store's appends.
type hubProbe struct{ h *hub.Hub }

// Name labels the probe.
func (hubProbe) Name() string { return "notifications" }

// Check fails until the hub's watch of the store is live, and after it
// stopped.
func (p hubProbe) Check(context.Context) error {
	select {
	case <-p.h.Done():
		return errors.New("the hub has stopped")
	case <-p.h.Watching():
		return nil
	default:
		return errors.New("not watching the store's appends yet")
	}
}
