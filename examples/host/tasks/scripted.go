package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/local"
)

// Limits of a script, so that no step can overflow a duration, an event or
// the host's memory.
const (
	// MaxDurationMs bounds sleepMs, ticks.intervalMs and
	// suspend.expiresInMs: one year.
	MaxDurationMs = 365 * 24 * 60 * 60 * 1000
	// MaxTicks bounds ticks.count.
	MaxTicks = 1_000_000
	// MaxPayloadBytes bounds ticks.payloadBytes: 1 MiB.
	MaxPayloadBytes = 1 << 20
	// MaxActionTypeLength bounds each of suspend.allowedActions, in
	// characters: the contract's limit of an action's actionType, so that
	// every allowed action can be chosen.
	MaxActionTypeLength = 128
)

// Failure codes of the scripted task, besides the script's own fail steps.
const (
	// CodeSuspensionExpired: a suspend step expired without an action.
	CodeSuspensionExpired = "SUSPENSION_EXPIRED"
	// CodeInvalidInput: the script did not pass its check when it ran
	// (only possible when a task skipped CheckTask).
	CodeInvalidInput = "INVALID_INPUT"
)

// The kinds of step, in the order the documentation lists them.
var stepKinds = []string{"sleepMs", "progress", "message", "ticks", "suspend", "complete", "fail"}

// Scripted returns the "scripted" task type. Its input is
// {"steps": [...]}; the steps run in order, each an object with exactly one
// key, its kind:
//
//   - {"sleepMs": n}: wait n ms (a number, 0..MaxDurationMs).
//   - {"progress": {"progress": p, "stage": s, "message": m}}: report
//     TASK_PROGRESS; p is a number 0..100, stage and message are optional
//     strings.
//   - {"message": {"message": m, "level": l}}: report TASK_MESSAGE; m is a
//     string, l is optional, info, warning or debug.
//   - {"ticks": {"count": n, "intervalMs": i, "payloadBytes": b}}: report n
//     TASK_MESSAGE events ("tick 1/n", "tick 2/n", ...), the first at once,
//     then one every i ms (a number, fractional allowed; 0 or absent is back
//     to back). When b is above 0 each message text is exactly b bytes: the
//     text padded with '.' or, when it is longer than b, cut to b bytes; 0
//     or absent leaves the text as it is. n is an integer 0..MaxTicks, b
//     0..MaxPayloadBytes.
//   - {"suspend": {"kind": k, "reasonCode": r, "allowedActions": [...],
//     "interaction": {...}, "uiHints": {...}, "expiresInMs": e}}: report
//     TASK_SUSPENDED and wait for an action; k is USER_ACTION_REQUIRED (the
//     default), EXTERNAL_CONFIRMATION_PENDING or SYSTEM_PAUSED; r a non-empty
//     string; allowedActions a non-empty list of non-empty strings of at
//     most MaxActionTypeLength characters;
//     interaction and uiHints optional objects; e an optional number of ms
//     (above 0, at most MaxDurationMs) after which the suspension expires.
//     When an action is accepted the script goes on with the next step;
//     when the suspension expires the task fails with
//     CodeSuspensionExpired.
//   - {"complete": {"result": any}}: complete with the result (null when
//     absent).
//   - {"fail": {"code": c, "message": m, "retryable": b}}: fail with code c
//     (a non-empty string), message m (a string) and retryable b (optional,
//     false).
//
// A script that ends without complete or fail completes with a null result.
// A cancel ends the task with TASK_CANCELLED whatever step it is at; sleeps,
// ticks and suspensions stop at once.
//
// Check refuses, with a *taskbridge.InvalidInputError whose Field is a
// JSON pointer such as "/input/steps/2/progress/progress", an input that is
// not an object, has other keys than steps, or whose steps is missing or not
// an array; a step that is not an object with one known kind; a value of
// the wrong type or out of range; a key a step kind does not know; and any
// step after a complete or fail step. Every script it accepts makes only
// events that the protocol's event schema accepts. Duplicate keys in a JSON
// object are not detected (the last one counts, as with encoding/json).
func Scripted() local.TaskType {
	return local.TaskType{
		Name: "scripted",
		Check: func(input json.RawMessage) error {
			_, err := parseScript(input)
			return err
		},
		Run: runScript,
	}
}

// step is one parsed step of a script.
type step struct {
	kind      string
	wait      time.Duration // sleepMs
	progress  taskbridge.Progress
	message   taskbridge.Message
	ticks     ticks
	suspend   taskbridge.SuspendRequest
	expiresIn time.Duration // suspend; 0 never expires
	result    json.RawMessage
	failure   taskbridge.Failure
}

type ticks struct {
	count        int
	interval     time.Duration
	payloadBytes int
}

func (s step) terminal() bool { return s.kind == "complete" || s.kind == "fail" }

func runScript(ctx context.Context, run *local.Run) (json.RawMessage, error) {
	steps, err := parseScript(run.Task().Input)
	if err != nil {
		return nil, local.NewFailure(CodeInvalidInput, err.Error())
	}
	for _, s := range steps {
		var err error
		switch s.kind {
		case "sleepMs":
			err = sleep(ctx, s.wait)
		case "progress":
			err = run.Progress(ctx, s.progress)
		case "message":
			err = run.Message(ctx, s.message)
		case "ticks":
			err = tick(ctx, run, s.ticks)
		case "suspend":
			req := s.suspend
			if s.expiresIn > 0 {
				req.ExpiresAt = time.Now().Add(s.expiresIn)
			}
			_, err = run.Suspend(ctx, req)
			if errors.Is(err, local.ErrSuspensionExpired) {
				return nil, local.NewFailure(CodeSuspensionExpired, "the suspension expired without an action")
			}
		case "complete":
			return s.result, nil
		case "fail":
			return nil, &local.Failure{Failure: s.failure}
		}
		if err != nil {
			return nil, err
		}
	}
	return json.RawMessage("null"), nil
}

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

// tick reports t.count messages, t.interval apart.
func tick(ctx context.Context, run *local.Run, t ticks) error {
	var pace <-chan time.Time
	if t.interval > 0 && t.count > 1 {
		ticker := time.NewTicker(t.interval)
		defer ticker.Stop()
		pace = ticker.C
	}
	for i := 1; i <= t.count; i++ {
		if i > 1 && pace != nil {
			select {
			case <-ctx.Done():
			case <-pace:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		text := fmt.Sprintf("tick %d/%d", i, t.count)
		if err := run.Message(ctx, taskbridge.Message{Text: pad(text, t.payloadBytes)}); err != nil {
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

// parseScript checks a scripted task's input and returns its steps.
func parseScript(input json.RawMessage) ([]step, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		input = json.RawMessage("null")
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, invalid("/input", "is not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("/input", "is not one JSON value")
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, invalid("/input", `must be an object with a "steps" array`)
	}
	if err := onlyKeys("/input", obj, "steps"); err != nil {
		return nil, err
	}
	raw, ok := obj["steps"]
	if !ok {
		return nil, invalid("/input/steps", "is required")
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, invalid("/input/steps", "must be an array of steps")
	}
	steps := make([]step, 0, len(list))
	for i, v := range list {
		field := "/input/steps/" + strconv.Itoa(i)
		if i > 0 && steps[i-1].terminal() {
			return nil, invalid(field, "no step may follow a terminal step (complete or fail)")
		}
		s, err := parseStep(field, v)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}

func parseStep(field string, v any) (step, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		reason := "must be an object with exactly one key, the step kind (one of " + strings.Join(stepKinds, ", ") + ")"
		if ok {
			reason += fmt.Sprintf("; it has %d: %s", len(m), strings.Join(sortedKeys(m), ", "))
		}
		return step{}, invalid(field, reason)
	}
	kind := sortedKeys(m)[0]
	body := m[kind]
	s := step{kind: kind}
	at := field + "/" + escape(kind)
	var err error
	switch kind {
	case "sleepMs":
		s.wait, err = durationMs(at, body, false)
	case "progress":
		s.progress, err = parseProgress(at, body)
	case "message":
		s.message, err = parseMessage(at, body)
	case "ticks":
		s.ticks, err = parseTicks(at, body)
	case "suspend":
		s.suspend, s.expiresIn, err = parseSuspend(at, body)
	case "complete":
		s.result, err = parseComplete(at, body)
	case "fail":
		s.failure, err = parseFail(at, body)
	default:
		return step{}, invalid(field, fmt.Sprintf("unknown step kind %q; the kinds are %s", kind, strings.Join(stepKinds, ", ")))
	}
	return s, err
}

func parseProgress(at string, body any) (taskbridge.Progress, error) {
	var p taskbridge.Progress
	m, err := object(at, body, "progress", "stage", "message")
	if err != nil {
		return p, err
	}
	v, err := required(at, m, "progress")
	if err != nil {
		return p, err
	}
	if p.Percent, err = numberIn(at+"/progress", v, 0, 100); err != nil {
		return p, err
	}
	if p.Stage, err = optionalString(at, m, "stage"); err != nil {
		return p, err
	}
	p.Message, err = optionalString(at, m, "message")
	return p, err
}

func parseMessage(at string, body any) (taskbridge.Message, error) {
	var msg taskbridge.Message
	m, err := object(at, body, "message", "level")
	if err != nil {
		return msg, err
	}
	v, err := required(at, m, "message")
	if err != nil {
		return msg, err
	}
	if msg.Text, err = str(at+"/message", v); err != nil {
		return msg, err
	}
	if msg.Level, err = optionalString(at, m, "level"); err != nil {
		return msg, err
	}
	if _, ok := m["level"]; ok {
		if err := oneOf(at+"/level", msg.Level, "info", "warning", "debug"); err != nil {
			return msg, err
		}
	}
	return msg, nil
}

func parseTicks(at string, body any) (ticks, error) {
	var t ticks
	m, err := object(at, body, "count", "intervalMs", "payloadBytes")
	if err != nil {
		return t, err
	}
	v, err := required(at, m, "count")
	if err != nil {
		return t, err
	}
	if t.count, err = integerIn(at+"/count", v, 0, MaxTicks); err != nil {
		return t, err
	}
	if v, ok := m["intervalMs"]; ok {
		if t.interval, err = durationMs(at+"/intervalMs", v, false); err != nil {
			return t, err
		}
	}
	if v, ok := m["payloadBytes"]; ok {
		if t.payloadBytes, err = integerIn(at+"/payloadBytes", v, 0, MaxPayloadBytes); err != nil {
			return t, err
		}
	}
	return t, nil
}

func parseSuspend(at string, body any) (taskbridge.SuspendRequest, time.Duration, error) {
	var req taskbridge.SuspendRequest
	m, err := object(at, body, "kind", "reasonCode", "allowedActions", "interaction", "uiHints", "expiresInMs")
	if err != nil {
		return req, 0, err
	}
	req.Kind = "USER_ACTION_REQUIRED"
	if v, ok := m["kind"]; ok {
		if req.Kind, err = str(at+"/kind", v); err != nil {
			return req, 0, err
		}
		if err := oneOf(at+"/kind", req.Kind, "USER_ACTION_REQUIRED", "EXTERNAL_CONFIRMATION_PENDING", "SYSTEM_PAUSED"); err != nil {
			return req, 0, err
		}
	}
	v, err := required(at, m, "reasonCode")
	if err != nil {
		return req, 0, err
	}
	if req.ReasonCode, err = nonEmpty(at+"/reasonCode", v); err != nil {
		return req, 0, err
	}
	v, err = required(at, m, "allowedActions")
	if err != nil {
		return req, 0, err
	}
	list, ok := v.([]any)
	if !ok {
		return req, 0, invalid(at+"/allowedActions", "must be an array of action types")
	}
	if len(list) == 0 {
		return req, 0, invalid(at+"/allowedActions", "must name at least one action type")
	}
	for i, a := range list {
		field := at + "/allowedActions/" + strconv.Itoa(i)
		s, err := nonEmpty(field, a)
		if err != nil {
			return req, 0, err
		}
		if utf8.RuneCountInString(s) > MaxActionTypeLength {
			return req, 0, invalid(field, fmt.Sprintf("must be at most %d characters, the longest actionType an action may carry", MaxActionTypeLength))
		}
		req.AllowedActions = append(req.AllowedActions, s)
	}
	if req.Interaction, err = optionalObject(at, m, "interaction"); err != nil {
		return req, 0, err
	}
	if req.UIHints, err = optionalObject(at, m, "uiHints"); err != nil {
		return req, 0, err
	}
	var expiresIn time.Duration
	if v, ok := m["expiresInMs"]; ok {
		if expiresIn, err = durationMs(at+"/expiresInMs", v, true); err != nil {
			return req, 0, err
		}
	}
	return req, expiresIn, nil
}

func parseComplete(at string, body any) (json.RawMessage, error) {
	m, err := object(at, body, "result")
	if err != nil {
		return nil, err
	}
	v, ok := m["result"]
	if !ok {
		return json.RawMessage("null"), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, invalid(at+"/result", "cannot be encoded as JSON")
	}
	return b, nil
}

func parseFail(at string, body any) (taskbridge.Failure, error) {
	var f taskbridge.Failure
	m, err := object(at, body, "code", "message", "retryable")
	if err != nil {
		return f, err
	}
	v, err := required(at, m, "code")
	if err != nil {
		return f, err
	}
	if f.Code, err = nonEmpty(at+"/code", v); err != nil {
		return f, err
	}
	if v, err = required(at, m, "message"); err != nil {
		return f, err
	}
	if f.Message, err = str(at+"/message", v); err != nil {
		return f, err
	}
	if v, ok := m["retryable"]; ok {
		b, ok := v.(bool)
		if !ok {
			return f, invalid(at+"/retryable", "must be a boolean")
		}
		f.Retryable = b
	}
	return f, nil
}

// Value checks. Each returns an *taskbridge.InvalidInputError naming the
// field it checked.

func invalid(field, reason string) error {
	return &taskbridge.InvalidInputError{Field: field, Reason: reason}
}

// escape makes a JSON pointer token of an object key (RFC 6901).
func escape(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// object checks that v is an object with no key but the allowed ones.
func object(at string, v any, allowed ...string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalid(at, "must be an object")
	}
	return m, onlyKeys(at, m, allowed...)
}

func onlyKeys(at string, m map[string]any, allowed ...string) error {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			return invalid(at+"/"+escape(k), "is not a known field; the fields are "+strings.Join(allowed, ", "))
		}
	}
	return nil
}

func required(at string, m map[string]any, key string) (any, error) {
	v, ok := m[key]
	if !ok {
		return nil, invalid(at+"/"+key, "is required")
	}
	return v, nil
}

func str(at string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", invalid(at, "must be a string")
	}
	return s, nil
}

func nonEmpty(at string, v any) (string, error) {
	s, err := str(at, v)
	if err == nil && s == "" {
		err = invalid(at, "must not be empty")
	}
	return s, err
}

func optionalString(at string, m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", nil
	}
	return str(at+"/"+key, v)
}

func oneOf(at, s string, allowed ...string) error {
	if !slices.Contains(allowed, s) {
		return invalid(at, "must be one of "+strings.Join(allowed, ", "))
	}
	return nil
}

func optionalObject(at string, m map[string]any, key string) (json.RawMessage, error) {
	v, ok := m[key]
	if !ok {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, invalid(at+"/"+key, "must be an object")
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, invalid(at+"/"+key, "cannot be encoded as JSON")
	}
	return b, nil
}

func number(at string, v any) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, invalid(at, "must be a number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, invalid(at, "is out of range")
	}
	return f, nil
}

func numberIn(at string, v any, lo, hi float64) (float64, error) {
	f, err := number(at, v)
	if err == nil && (f < lo || f > hi) {
		err = invalid(at, fmt.Sprintf("must be between %g and %g", lo, hi))
	}
	return f, err
}

func integerIn(at string, v any, lo, hi int) (int, error) {
	f, err := number(at, v)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, invalid(at, "must be an integer")
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, invalid(at, fmt.Sprintf("must be between %d and %d", lo, hi))
	}
	return int(f), nil
}

// durationMs reads a number of milliseconds, 0..MaxDurationMs (above 0 when
// positive is set); fractions are kept to the nanosecond.
func durationMs(at string, v any, positive bool) (time.Duration, error) {
	f, err := numberIn(at, v, 0, MaxDurationMs)
	if err != nil {
		return 0, err
	}
	if positive && f == 0 {
		return 0, invalid(at, "must be above 0")
	}
	d := time.Duration(f * float64(time.Millisecond))
	if positive && d <= 0 {
		d = 1 // below a nanosecond: still a positive duration
	}
	return d, nil
}
