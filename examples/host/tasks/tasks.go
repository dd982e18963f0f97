// Package tasks holds the example host's task types, for the local
// executor (adapters/local):
//
//   - "echo" completes at once with its input as the result.
//   - "scripted" runs a list of steps (sleep, progress, messages, paced
//     ticks, suspensions, complete, fail) so that tests, benchmarks and the
//     browser page can make a task do anything the protocol allows. See
//     Scripted for the script format.
//
// Wire them with
//
//	executor := local.New(local.Config{Reporter: reporter}, tasks.All()...)
package tasks

import (
	"context"
	"encoding/json"

	"github.com/taskbridge-go/taskbridge/adapters/local"
)

// All returns every task type of the example host.
func All() []local.TaskType {
	return []local.TaskType{Scripted(), Echo()}
}

// Echo returns the "echo" task type: it completes at once with the task's
// input as its result (a task without input completes with null). It
// accepts any input.
func Echo() local.TaskType {
	return local.TaskType{
		Name: "echo",
		Run: func(_ context.Context, run *local.Run) (json.RawMessage, error) {
			input := run.Task().Input
			if len(input) == 0 {
				return json.RawMessage("null"), nil
			}
			return input, nil
		},
	}
}
