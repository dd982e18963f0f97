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
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// Scripted runs the steps in order; see the Script schema.
func Scripted(ctx workflow.Context, in tasktypes.Script, run temporal.Run) (tasktypes.AnyResult, error) {
	for _, s := range in.Steps {
		var err error
		switch {
		case s.SleepMs != nil:
			err = sleep(ctx, milliseconds(*s.SleepMs))
		case s.Progress != nil:
			err = run.Progress(ctx, taskbridge.Progress{Percent: s.Progress.Progress, Stage: deref(s.Progress.Stage), Message: deref(s.Progress.Message)})
		case s.Message != nil:
			err = run.Message(ctx, taskbridge.Message{Text: s.Message.Message, Level: string(deref(s.Message.Level))})
		case s.Ticks != nil:
			err = tick(ctx, run, s.Ticks)
		case s.Suspend != nil:
			err = suspend(ctx, run, s.Suspend)
		case s.Complete != nil:
			return s.Complete.Result, nil
		case s.Fail != nil:
			return nil, &taskbridge.Failure{Code: s.Fail.Code, Message: s.Fail.Message, Retryable: deref(s.Fail.Retryable)}
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// milliseconds is a duration of ms, fractions kept to the nanosecond.
func milliseconds(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// sleep waits d on a workflow timer, or until the task is cancelled.
func sleep(ctx workflow.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	return workflow.Sleep(ctx, d)
}

// tick reports t.Count messages, the first at once and the i-th
// (i-1)×IntervalMs after it, as a ticker paces the local handler: the time
// a report takes does not push the next one later.
func tick(ctx workflow.Context, run temporal.Run, t *tasktypes.TicksStep) error {
	interval := milliseconds(deref(t.IntervalMs))
	start := workflow.Now(ctx)
	for i := 1; i <= t.Count; i++ {
		if i > 1 && interval > 0 {
			if err := sleep(ctx, start.Add(time.Duration(i-1)*interval).Sub(workflow.Now(ctx))); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		text := fmt.Sprintf("tick %d/%d", i, t.Count)
		if err := run.Message(ctx, taskbridge.Message{Text: pad(text, deref(t.PayloadBytes))}); err != nil {
			return err
		}
	}
	return nil
}

// pad makes text exactly n bytes long, padded with '.' or cut; n = 0 leaves
// text as it is. text is ASCII, so a cut never splits a character.
func pad(text string, n int) string {
	switch {
	case n <= 0:
		return text
	case len(text) >= n:
		return text[:n]
	default:
		return text + strings.Repeat(".", n-len(text))
	}
}

// suspend reports TASK_SUSPENDED and waits in the workflow for the action;
// an expired suspension fails the task with SUSPENSION_EXPIRED, as the
// local handler does.
func suspend(ctx workflow.Context, run temporal.Run, s *tasktypes.SuspendStep) error {
	req := taskbridge.SuspendRequest{
		Kind:           string(deref(s.Kind)),
		ReasonCode:     s.ReasonCode,
		AllowedActions: s.AllowedActions,
	}
	if req.Kind == "" {
		req.Kind = string(tasktypes.SuspendStepKindUserActionRequired)
	}
	if s.ExpiresInMs != nil {
		req.ExpiresAt = workflow.Now(ctx).Add(max(milliseconds(*s.ExpiresInMs), time.Millisecond))
	}
	var err error
	if req.Interaction, err = object(s.Interaction); err != nil {
		return err
	}
	if req.UIHints, err = object(s.UiHints); err != nil {
		return err
	}
	_, err = run.Suspend(ctx, req)
	if errors.Is(err, taskbridge.ErrSuspensionExpired) {
		return &taskbridge.Failure{Code: localtasks.CodeSuspensionExpired, Message: "the suspension expired without an action"}
	}
	return err
}

// object is the JSON of an optional object. encoding/json writes a map's
// keys sorted, so a replay makes the same bytes.
func object(o *map[string]any) (json.RawMessage, error) {
	if o == nil {
		return nil, nil
	}
	return json.Marshal(*o)
}
