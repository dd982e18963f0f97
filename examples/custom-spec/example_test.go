package customspec_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/taskbridge-go/taskbridge/examples/custom-spec/thumbgen"
)

// A client creates a thumbnail task with a typed input, and the host completes
// it with a typed result; both travel in the TaskBridge envelopes.
func Example() {
	create := thumbgen.CreateTaskRequest{
		ClientRequestId: "req-1",
		TaskType:        thumbgen.CreateTaskRequestTaskTypeThumbnail,
		Input:           &thumbgen.ThumbnailInput{ImageUrl: "https://img.example/cat.jpg", Width: 256},
	}
	body, _ := json.Marshal(create)
	fmt.Println(string(body))

	result := thumbgen.TaskCompletedPayload{Result: thumbgen.ThumbnailResult{
		ThumbnailUrl: "https://img.example/cat-256.webp", Width: 256, Height: 171, Bytes: 10240,
	}}
	at := time.Date(2026, 11, 23, 12, 0, 0, 500_000_000, time.UTC)
	event, err := thumbgen.NewTaskEvent("task-1", "7", at, result)
	if err != nil {
		panic(err)
	}
	wire, _ := json.Marshal(event)
	fmt.Println(string(wire))

	typ, _ := event.Type()
	fmt.Println(typ, typ.IsTerminal())
	// Output:
	// {"clientRequestId":"req-1","input":{"imageUrl":"https://img.example/cat.jpg","width":256},"taskType":"thumbnail"}
	// {"createdAt":"2026-11-23T12:00:00.5Z","eventId":"7","payload":{"result":{"bytes":10240,"height":171,"thumbnailUrl":"https://img.example/cat-256.webp","width":256}},"taskId":"task-1","type":"TASK_COMPLETED"}
	// TASK_COMPLETED true
}
