package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

func Example() {
	ctx := context.Background()
	store := memory.New()

	task, created, _ := store.CreateTask(ctx, taskbridge.NewTask{
		ID: "t1", Owner: "alice", ClientRequestID: "req-1", Type: "echo",
		Input: json.RawMessage(`{"text":"hi"}`), Fingerprint: "fp-1", CreatedAt: time.Now(),
	})
	fmt.Println(task.ID, task.Status, created)

	ev, _ := store.Append(ctx, "t1", taskbridge.Append{
		Type: taskbridge.EventStarted, Payload: json.RawMessage(`{}`), Status: taskbridge.StatusRunning,
	})
	_, _ = store.Append(ctx, "t1", taskbridge.Append{
		Type: taskbridge.EventCompleted, Payload: json.RawMessage(`{"result":"hi"}`), Status: taskbridge.StatusCompleted,
	})
	fmt.Println("first event", ev.ID, ev.Type)

	events, _ := store.ReadAfter(ctx, "t1", ev.ID, 100, 0)
	for _, e := range events {
		fmt.Println("after the cursor:", e.ID, e.Type, string(e.Payload))
	}

	_, err := store.Append(ctx, "t1", taskbridge.Append{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{"message":"late"}`)})
	fmt.Println(err)
	// Output:
	// t1 ACCEPTED true
	// first event 1 TASK_STARTED
	// after the cursor: 2 TASK_COMPLETED {"result":"hi"}
	// task "t1" is COMPLETED: task has ended
}
