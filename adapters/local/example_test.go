package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/local"
)

// printReporter prints each report; a host uses services.Reporter instead.
type printReporter struct {
	suspended chan taskbridge.Suspension
	ended     chan struct{}
}

func (p *printReporter) Start(_ context.Context, id, _ string) error {
	fmt.Println(id, "TASK_STARTED")
	return nil
}

func (p *printReporter) Progress(_ context.Context, id string, pr taskbridge.Progress) error {
	fmt.Println(id, "TASK_PROGRESS", pr.Percent, pr.Stage)
	return nil
}

func (p *printReporter) Message(_ context.Context, id string, m taskbridge.Message) error {
	fmt.Println(id, "TASK_MESSAGE", m.Text)
	return nil
}

func (p *printReporter) Suspend(_ context.Context, id string, s taskbridge.SuspendRequest) (taskbridge.Suspension, error) {
	fmt.Println(id, "TASK_SUSPENDED", s.SuspendID, s.AllowedActions)
	susp := taskbridge.Suspension{TaskID: id, SuspendID: s.SuspendID, AllowedActions: s.AllowedActions}
	p.suspended <- susp
	return susp, nil
}

func (p *printReporter) Complete(_ context.Context, id string, result json.RawMessage) error {
	fmt.Println(id, "TASK_COMPLETED", string(result))
	close(p.ended)
	return nil
}

func (p *printReporter) Fail(_ context.Context, id string, f taskbridge.Failure) error {
	fmt.Println(id, "TASK_FAILED", f.Code)
	close(p.ended)
	return nil
}

func (p *printReporter) Cancelled(_ context.Context, id string) error {
	fmt.Println(id, "TASK_CANCELLED")
	close(p.ended)
	return nil
}

func Example() {
	ctx := context.Background()
	reporter := &printReporter{suspended: make(chan taskbridge.Suspension, 1), ended: make(chan struct{})}

	approval := local.TaskType{
		Name: "approval",
		Run: func(ctx context.Context, run *local.Run) (json.RawMessage, error) {
			if err := run.Progress(ctx, taskbridge.Progress{Percent: 50, Stage: "review"}); err != nil {
				return nil, err
			}
			action, err := run.Suspend(ctx, taskbridge.SuspendRequest{
				SuspendID: "review-1", ReasonCode: "NEEDS_APPROVAL", AllowedActions: []string{"approve", "reject"},
			})
			if errors.Is(err, taskbridge.ErrSuspensionExpired) {
				return nil, &taskbridge.Failure{Code: "NOT_REVIEWED", Message: "nobody reviewed the document in time"}
			}
			if err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"decision": action.ActionType})
		},
	}
	executor := local.New(local.Config{Reporter: reporter}, approval)
	defer executor.Shutdown(ctx)

	input := json.RawMessage(`{"doc":"contract.pdf"}`)
	task := taskbridge.Task{NewTask: taskbridge.NewTask{ID: "t1", Type: "approval", Input: input}}
	if err := executor.Submit(ctx, task); err != nil {
		fmt.Println(err)
		return
	}

	// The services accept the client's action and hand it over.
	s := <-reporter.suspended
	action := &taskbridge.ActionReceipt{ActionRequest: taskbridge.ActionRequest{
		TaskID: s.TaskID, SuspendID: s.SuspendID, ActionType: "approve",
	}}
	if err := executor.Resume(ctx, taskbridge.Resume{TaskID: s.TaskID, SuspendID: s.SuspendID, Action: action}); err != nil {
		fmt.Println(err)
		return
	}
	<-reporter.ended

	// Output:
	// t1 TASK_STARTED
	// t1 TASK_PROGRESS 50 review
	// t1 TASK_SUSPENDED review-1 [approve reject]
	// t1 TASK_COMPLETED {"decision":"approve"}
}
