// Package tasks runs the example host's task types, `scripted` and `echo`,
// as Temporal workflows: the typed inputs of package tasktypes
// (examples/host/tasktypes.yaml) and, step by step, what the local
// handlers of examples/host/tasks do, as deterministic workflow code. A
// sleep or a tick's pace is a workflow timer, a report an activity, and a
// suspension waits in the workflow, so a task goes on across the death of
// every host process.
//
// The bridge checks inputs before a workflow starts: the host keeps the
// contract's task types (tasktypes.TaskTypes(tasks.Host{})) with their
// check, tasks.Host.CheckScripted, whatever executor runs them.
package tasks

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/temporal"
	localtasks "github.com/taskbridge-go/taskbridge/examples/host/tasks"
	"github.com/taskbridge-go/taskbridge/examples/host/tasktypes"
)

// Types are the example host's task types for a temporal.Config.
func Types() []temporal.TaskType {
	return []temporal.TaskType{
		{Name: tasktypes.TaskTypeScripted, Run: temporal.Typed(Scripted)},
		{Name: tasktypes.TaskTypeEcho, Run: temporal.Typed(Echo)},
	}
}

// Echo completes with the task's input (null when it had none).
func Echo(_ workflow.Context, input tasktypes.AnyObject, _ temporal.Run) (tasktypes.AnyResult, error) {
	if input == nil {
		return nil, nil
	}
	return input, nil
}

// Scripted runs the steps in order in the workflow; see the Script schema
// and tasks.RunScript of the local host, which says what each step does.
func Scripted(ctx workflow.Context, in tasktypes.Script, run temporal.Run) (tasktypes.AnyResult, error) {
	return localtasks.RunScript(in, workflowRunner{ctx: ctx, run: run})
}

// workflowRunner runs a script as deterministic workflow code: waits are
// workflow timers, the time is the workflow's, and the reports are the
// Run's activities.
type workflowRunner struct {
	ctx workflow.Context
	run temporal.Run
}

func (w workflowRunner) Err() error     { return w.ctx.Err() }
func (w workflowRunner) Now() time.Time { return workflow.Now(w.ctx) }

func (w workflowRunner) Progress(p taskbridge.Progress) error { return w.run.Progress(w.ctx, p) }
func (w workflowRunner) Message(m taskbridge.Message) error   { return w.run.Message(w.ctx, m) }

func (w workflowRunner) Suspend(req taskbridge.SuspendRequest) error {
	_, err := w.run.Suspend(w.ctx, req)
	return err
}

// Sleep waits d on a workflow timer, or until the task is cancelled.
func (w workflowRunner) Sleep(d time.Duration) error {
	if d <= 0 {
		return w.ctx.Err()
	}
	return workflow.Sleep(w.ctx, d)
}

// Pace waits for ticks at fixed times from its start, as a ticker paces the
// local handler: the time a report takes does not push the next one later.
func (w workflowRunner) Pace(interval time.Duration) (next func() error, stop func()) {
	due := workflow.Now(w.ctx)
	return func() error {
		due = due.Add(interval)
		return w.Sleep(due.Sub(workflow.Now(w.ctx)))
	}, func() {}
}
