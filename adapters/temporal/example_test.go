package temporal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/taskbridge-go/taskbridge"
	temporal "github.com/taskbridge-go/taskbridge/adapters/temporal"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

type greetInput struct {
	Name string `json:"name"`
}

type greetResult struct {
	Greeting string `json:"greeting"`
}

// A typed task type, run in the SDK's test workflow environment with the
// real activities over a memory store: what a host's unit tests of its
// task types look like. A host runs the same Config with a Worker and an
// Executor on a real Temporal client.
func ExampleTyped() {
	greet := temporal.TaskType{
		Name: "greet",
		Run: temporal.Typed(func(ctx workflow.Context, in greetInput, run temporal.Run) (greetResult, error) {
			if err := run.Progress(ctx, taskbridge.Progress{Percent: 50, Stage: "thinking"}); err != nil {
				return greetResult{}, err
			}
			return greetResult{Greeting: "hello " + in.Name}, nil
		}),
	}

	ctx := context.Background()
	store := memory.New()
	reporter, err := services.NewReporter(services.ReporterConfig{Store: store})
	if err != nil {
		panic(err)
	}
	task, _, err := store.CreateTask(ctx, taskbridge.NewTask{ID: "t1", Owner: "alice", ClientRequestID: "r1",
		Type: "greet", Input: json.RawMessage(`{"name":"Ada"}`), CreatedAt: time.Now()})
	if err != nil {
		panic(err)
	}

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	cfg := temporal.Config{Types: []temporal.TaskType{greet}}
	cfg.Register(env, &temporal.Activities{Reporter: reporter, Suspensions: store})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: temporal.WorkflowID(task.ID)})
	env.ExecuteWorkflow(temporal.WorkflowName, temporal.TaskInfo{ID: task.ID, Type: task.Type, Input: task.Input})

	events, err := store.ReadAfter(ctx, task.ID, 0, 10, 0)
	if err != nil {
		panic(err)
	}
	for _, e := range events {
		fmt.Println(e.Type, string(e.Payload))
	}
	// Output:
	// TASK_STARTED {}
	// TASK_PROGRESS {"progress":50,"stage":"thinking"}
	// TASK_COMPLETED {"result":{"greeting":"hello Ada"}}
}
