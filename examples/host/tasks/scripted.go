package tasks

import (
	"context"
	"strconv"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/examples/host/tasktypes"
)

// CodeSuspensionExpired is the failure code of a script whose suspend step
// expired without an action.
const CodeSuspensionExpired = "SUSPENSION_EXPIRED"

// CheckScripted refuses what the Script schema cannot: a step after a
// terminal step (complete or fail). The bridge has checked the rest.
func (Host) CheckScripted(in tasktypes.Script) error {
	for i := 1; i < len(in.Steps); i++ {
		if terminal(in.Steps[i-1]) {
			return &taskbridge.InvalidInputError{Field: "/steps/" + strconv.Itoa(i), Reason: "no step may follow a terminal step (complete or fail)"}
		}
	}
	return nil
}

func terminal(s tasktypes.Step) bool { return s.Complete != nil || s.Fail != nil }

// Scripted runs the steps in order on the task's goroutine; see the
// Script schema and RunScript.
func (Host) Scripted(ctx context.Context, in tasktypes.Script, run *tasktypes.ScriptedRun) (tasktypes.AnyResult, error) {
	return RunScript(in, localRunner{ctx: ctx, run: run})
}

// localRunner runs a script on the local executor: real timers, ctx's
// cancellation, and the reports of run.
type localRunner struct {
	ctx context.Context
	run *tasktypes.ScriptedRun
}

func (l localRunner) Err() error     { return l.ctx.Err() }
func (l localRunner) Now() time.Time { return time.Now() }

func (l localRunner) Progress(p taskbridge.Progress) error { return l.run.Progress(l.ctx, p) }
func (l localRunner) Message(m taskbridge.Message) error   { return l.run.Message(l.ctx, m) }

func (l localRunner) Suspend(req taskbridge.SuspendRequest) error {
	_, err := l.run.Suspend(l.ctx, req)
	return err
}

// Sleep waits d, or until the task is cancelled.
func (l localRunner) Sleep(d time.Duration) error {
	if d <= 0 {
		return l.ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-l.ctx.Done():
		return l.ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Pace is a ticker: a tick a slow report missed is dropped, not made up.
func (l localRunner) Pace(interval time.Duration) (next func() error, stop func()) {
	ticker := time.NewTicker(interval)
	return func() error {
		select {
		case <-l.ctx.Done():
			return l.ctx.Err()
		case <-ticker.C:
			return nil
		}
	}, ticker.Stop
}
