// Package tasks runs the example host's task types, declared in
// examples/host/tasktypes.yaml and generated into package tasktypes:
//
//   - "echo" completes at once with its input as the result (null without
//     one).
//   - "scripted" runs a list of steps (sleep, progress, messages, paced
//     ticks, suspensions, complete, fail) so that tests, benchmarks and the
//     browser page can make a task do anything the protocol allows. The
//     Script schema of tasktypes.yaml states the format, and
//     examples/host/README.md describes every step kind with an example.
//
// Host implements tasktypes.Handlers; wire it with
//
//	bridge.New(bridge.Config{TaskTypes: tasktypes.TaskTypes(tasks.Host{}), ...})
package tasks

import (
	"context"

	"github.com/taskbridge-go/taskbridge/examples/host/tasktypes"
)

// Host runs the example host's task types.
type Host struct{}

var (
	_ tasktypes.Handlers        = Host{}
	_ tasktypes.ScriptedChecker = Host{}
)

// Echo completes with the task's input (null when it had none).
func (Host) Echo(_ context.Context, input tasktypes.AnyObject, run *tasktypes.EchoRun) (tasktypes.AnyResult, error) {
	if input == nil {
		return nil, nil
	}
	return input, nil
}
