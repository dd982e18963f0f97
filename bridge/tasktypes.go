package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// TaskTypes are a host's task types: the contract that declares them and
// the handlers that run them. The package tbgen generates from a host's
// task-type spec makes it: jobs.TaskTypes(impl).
type TaskTypes struct {
	// Contract is the merged contract tbgen wrote (openapi.json): the base
	// API with the task types declared under x-taskbridge-task-types. The
	// bridge checks inputs, action payloads and results against it and
	// serves it. Required.
	Contract []byte
	// Types run the declared task types on the local executor, one per
	// name. A bridge with its own Config.Executor may leave them out.
	Types []TaskType
}

// TaskType runs one declared task type.
type TaskType struct {
	// Name is the declared taskType.
	Name string
	// Check, when set, judges an input that matched its schema, for rules a
	// schema cannot express; it returns an *taskbridge.InvalidInputError
	// whose Field is relative to the input ("/steps/3"), answered with 422.
	Check func(input json.RawMessage) error
	// Run runs one task. Required.
	Run Handler
}

// Handler runs one task and returns its result as JSON. It reports through
// run, with a ctx that ends when the task is cancelled or the executor
// stops. A *taskbridge.Failure it returns fails the task with that code;
// any other error fails it with a generic code; a cancelled task ends with
// TASK_CANCELLED whatever it returns.
type Handler func(ctx context.Context, run Run) (result json.RawMessage, err error)

// Run is a running task as its handler sees it. Its reports are sequential:
// call them from the handler's goroutine.
type Run interface {
	// Task is the task as it was created (input, metadata, attachments).
	Task() taskbridge.Task
	// Progress reports TASK_PROGRESS.
	Progress(ctx context.Context, p taskbridge.Progress) error
	// Message reports TASK_MESSAGE.
	Message(ctx context.Context, m taskbridge.Message) error
	// Suspend reports TASK_SUSPENDED and waits for the accepted action. It
	// fails when the suspension expires or ctx ends first.
	Suspend(ctx context.Context, req taskbridge.SuspendRequest) (*taskbridge.ActionReceipt, error)
}

// CodeInvalidInput is the failure code of a task whose input does not
// decode into its typed handler's input type: a task that was not checked
// against the contract at create.
const CodeInvalidInput = "INVALID_INPUT"

// Typed makes a Handler of a typed one: the task's input is decoded into
// In (an absent input is In's zero value; a number that lands in an any is
// a json.Number, kept exact) and the returned Out is encoded as the
// result. Generated task types use it.
func Typed[In, Out any](fn func(ctx context.Context, in In, run Run) (Out, error)) Handler {
	return func(ctx context.Context, run Run) (json.RawMessage, error) {
		in, err := DecodeInput[In](run.Task().Input)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, in, run)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

// DecodeInput decodes a task's input into In, as Typed does for the local
// executor and other executors' typed handlers do: an absent input is In's
// zero value, and a number that lands in an any is a json.Number, kept
// exact. An input that does not decode is a *taskbridge.Failure with
// CodeInvalidInput, which fails the task.
func DecodeInput[In any](input json.RawMessage) (In, error) {
	var in In
	if err := decode(input, &in); err != nil {
		return in, &taskbridge.Failure{Code: CodeInvalidInput, Message: "the input does not decode: " + err.Error()}
	}
	return in, nil
}

// TypedCheck makes an input check of a typed one: the input is decoded
// into In first.
func TypedCheck[In any](fn func(in In) error) func(json.RawMessage) error {
	return func(input json.RawMessage) error {
		var in In
		if err := decode(input, &in); err != nil {
			return &taskbridge.InvalidInputError{Field: "", Reason: "does not decode: " + err.Error()}
		}
		return fn(in)
	}
}

// decode decodes JSON into v, keeping numbers that land in an any exact
// (as json.Number); empty data leaves v as it is.
func decode(data json.RawMessage, v any) error {
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// SuspendOptions are what a handler chooses of a declared suspension; the
// contract fixes its kind, reasonCode and allowed actions.
type SuspendOptions struct {
	// SuspendID identifies the suspension in its task; empty picks one.
	SuspendID string
	// Interaction and UIHints are JSON objects for the client (anything
	// that encodes to one, such as a map or a struct); nil leaves them out.
	Interaction, UIHints any
	// ExpiresAt, when not zero, is when it expires without an action.
	ExpiresAt time.Time
}

// Suspend opens a declared suspension (its reasonCode is the suspension's
// name in the contract) and waits for the action that answers it. The
// generated typed suspends call it and decode the action's payload.
func Suspend(ctx context.Context, run Run, kind, reasonCode string, actions []string, opts SuspendOptions) (*taskbridge.ActionReceipt, error) {
	req := taskbridge.SuspendRequest{
		SuspendID:      opts.SuspendID,
		Kind:           kind,
		ReasonCode:     reasonCode,
		AllowedActions: actions,
		ExpiresAt:      opts.ExpiresAt,
	}
	var err error
	if req.Interaction, err = jsonObject("interaction", opts.Interaction); err != nil {
		return nil, err
	}
	if req.UIHints, err = jsonObject("uiHints", opts.UIHints); err != nil {
		return nil, err
	}
	return run.Suspend(ctx, req)
}

func jsonObject(field string, v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &taskbridge.InvalidInputError{Field: "/" + field, Reason: "does not encode as JSON: " + err.Error()}
	}
	return b, nil
}

// DecodePayload decodes the payload of an accepted action into v; an
// absent payload leaves v as it is.
func DecodePayload(a *taskbridge.ActionReceipt, v any) error {
	if err := decode(a.Payload, v); err != nil {
		return fmt.Errorf("bridge: the payload of action %s (%s) does not decode: %w", a.ClientActionID, a.ActionType, err)
	}
	return nil
}
