package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
)

// errNotHere: the executor of this replica does not run the task.
var errNotHere = errors.New("the task does not run on this replica")

// replicaExecutor is the executor of one replica among several that share
// a store. A task it does not run may well run on another replica, so its
// "not running" must not make the services end the task as lost: a resume
// is left to the reconciler of the replica that runs the task (or, when
// that replica died, to the leases that end the task), and a cancel ends
// the task in the store at once (the replica that runs it finds out at its
// next report). Only a task that has ended is not running anywhere.
type replicaExecutor struct {
	taskbridge.TaskExecutor
	tasks taskbridge.TaskRegistry
}

// Cancel asks this replica's executor to stop the task.
func (e replicaExecutor) Cancel(ctx context.Context, taskID string) error {
	return notHere(e.TaskExecutor.Cancel(ctx, taskID))
}

// Resume hands the outcome to this replica's executor, if it runs the
// task. The outcome of a task that has ended is for no one: that is
// taskbridge.ErrTaskNotRunning, so that the hand-off is settled.
func (e replicaExecutor) Resume(ctx context.Context, r taskbridge.Resume) error {
	err := notHere(e.TaskExecutor.Resume(ctx, r))
	if !errors.Is(err, errNotHere) {
		return err
	}
	if t, gerr := e.tasks.GetTask(ctx, r.TaskID); gerr == nil && t.Status.IsTerminal() {
		return fmt.Errorf("task %s has ended: %w", r.TaskID, taskbridge.ErrTaskNotRunning)
	}
	return err
}

// Shutdown stops the executor, when it can be stopped.
func (e replicaExecutor) Shutdown(ctx context.Context) error {
	if s, ok := e.TaskExecutor.(interface{ Shutdown(context.Context) error }); ok {
		return s.Shutdown(ctx)
	}
	return nil
}

func notHere(err error) error {
	if errors.Is(err, taskbridge.ErrTaskNotRunning) {
		return fmt.Errorf("%w: %v", errNotHere, err)
	}
	return err
}

// hubProbe reports on /ready whether the hub follows the store's appends.
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

// preparedProbe reports on /ready whether the store was prepared.
type preparedProbe struct{ prepared <-chan struct{} }

// Name labels the probe.
func (preparedProbe) Name() string { return "store-prepared" }

// Check fails until Run prepared the store.
func (p preparedProbe) Check(context.Context) error {
	select {
	case <-p.prepared:
		return nil
	default:
		return errors.New("the store is not prepared yet")
	}
}
