package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/examples/host/tasktypes"
)

// Runner is where a script runs: the local executor's goroutine here, a
// Temporal workflow in the Temporal host. RunScript says what each step
// does; a Runner says how to wait and how to report there. Each method
// returns the error that stops the script (the task was cancelled, a
// report was refused).
type Runner interface {
	// Err is the task's cancellation, nil while it runs.
	Err() error
	// Now is the time to count an expiry from.
	Now() time.Time
	// Sleep waits d (nothing when d <= 0).
	Sleep(d time.Duration) error
	// Pace starts a pace of ticks interval apart: next waits for the next
	// tick (the time a report takes does not push the next tick later),
	// and stop ends the pace.
	Pace(interval time.Duration) (next func() error, stop func())
	Progress(p taskbridge.Progress) error
	Message(m taskbridge.Message) error
	// Suspend reports TASK_SUSPENDED and waits for its outcome: nil for an
	// accepted action, an error wrapping taskbridge.ErrSuspensionExpired
	// when it expired.
	Suspend(req taskbridge.SuspendRequest) error
}

// RunScript runs the steps in order on r; see the Script schema. A script
// that ends without a complete or fail step completes with null.
func RunScript(in tasktypes.Script, r Runner) (tasktypes.AnyResult, error) {
	for _, s := range in.Steps {
		var err error
		switch {
		case s.SleepMs != nil:
			err = r.Sleep(milliseconds(*s.SleepMs))
		case s.Progress != nil:
			err = r.Progress(taskbridge.Progress{Percent: s.Progress.Progress, Stage: deref(s.Progress.Stage), Message: deref(s.Progress.Message)})
		case s.Message != nil:
			err = r.Message(taskbridge.Message{Text: s.Message.Message, Level: string(deref(s.Message.Level))})
		case s.Ticks != nil:
			err = tick(r, s.Ticks)
		case s.Suspend != nil:
			err = suspend(r, s.Suspend)
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

// tick reports t.Count messages, t.IntervalMs apart.
func tick(r Runner, t *tasktypes.TicksStep) error {
	next := func() error { return nil }
	if interval := milliseconds(deref(t.IntervalMs)); interval > 0 && t.Count > 1 {
		var stop func()
		next, stop = r.Pace(interval)
		defer stop()
	}
	for i := 1; i <= t.Count; i++ {
		if i > 1 {
			if err := next(); err != nil {
				return err
			}
		}
		if err := r.Err(); err != nil {
			return err
		}
		text := fmt.Sprintf("tick %d/%d", i, t.Count)
		if err := r.Message(taskbridge.Message{Text: pad(text, deref(t.PayloadBytes))}); err != nil {
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
func suspend(r Runner, s *tasktypes.SuspendStep) error {
	req := taskbridge.SuspendRequest{
		Kind:           string(deref(s.Kind)),
		ReasonCode:     s.ReasonCode,
		AllowedActions: s.AllowedActions,
	}
	if req.Kind == "" {
		req.Kind = string(tasktypes.SuspendStepKindUserActionRequired)
	}
	if s.ExpiresInMs != nil {
		req.ExpiresAt = r.Now().Add(max(milliseconds(*s.ExpiresInMs), time.Millisecond))
	}
	var err error
	if req.Interaction, err = object(s.Interaction); err != nil {
		return err
	}
	if req.UIHints, err = object(s.UiHints); err != nil {
		return err
	}
	err = r.Suspend(req)
	if errors.Is(err, taskbridge.ErrSuspensionExpired) {
		return &taskbridge.Failure{Code: CodeSuspensionExpired, Message: "the suspension expired without an action"}
	}
	return err
}

// object is the JSON of an optional object. encoding/json writes a map's
// keys sorted, so the same object always makes the same bytes (a workflow's
// replay relies on it).
func object(o *map[string]any) (json.RawMessage, error) {
	if o == nil {
		return nil, nil
	}
	return json.Marshal(*o)
}
