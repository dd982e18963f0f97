package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// Scripted runs the steps in order; see the Script schema.
func (Host) Scripted(ctx context.Context, in tasktypes.Script, run *tasktypes.ScriptedRun) (tasktypes.AnyResult, error) {
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

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// tick reports t.Count messages, t.IntervalMs apart.
func tick(ctx context.Context, run *tasktypes.ScriptedRun, t *tasktypes.TicksStep) error {
	var pace <-chan time.Time
	if interval := milliseconds(deref(t.IntervalMs)); interval > 0 && t.Count > 1 {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		pace = ticker.C
	}
	for i := 1; i <= t.Count; i++ {
		if i > 1 && pace != nil {
			select {
			case <-ctx.Done():
			case <-pace:
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

// suspend reports TASK_SUSPENDED and waits for the action; an expired
// suspension fails the task with CodeSuspensionExpired.
func suspend(ctx context.Context, run *tasktypes.ScriptedRun, s *tasktypes.SuspendStep) error {
	req := taskbridge.SuspendRequest{
		Kind:           string(deref(s.Kind)),
		ReasonCode:     s.ReasonCode,
		AllowedActions: s.AllowedActions,
	}
	if req.Kind == "" {
		req.Kind = string(tasktypes.SuspendStepKindUserActionRequired)
	}
	if s.ExpiresInMs != nil {
		req.ExpiresAt = time.Now().Add(max(milliseconds(*s.ExpiresInMs), 1))
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
		return &taskbridge.Failure{Code: CodeSuspensionExpired, Message: "the suspension expired without an action"}
	}
	return err
}

func object(o *map[string]any) (json.RawMessage, error) {
	if o == nil {
		return nil, nil
	}
	return json.Marshal(*o)
}
