package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// Every event the host emits is checked against the protocol's
// task_event.schema.json by follow and waitFor (checkEvent).

func TestScriptedTaskRunsToCompletion(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "run-1",
		step("progress", map[string]any{"progress": 10, "stage": "prepare", "message": "warming up"}),
		step("message", map[string]any{"message": "hello", "level": "warning"}),
		step("sleepMs", 5),
		step("ticks", map[string]any{"count": 3, "intervalMs": 0.5, "payloadBytes": 64}),
		step("progress", map[string]any{"progress": 100}),
		step("complete", map[string]any{"result": map[string]any{"answer": 42}}),
	)
	events := h.follow(t, "alice", id)
	require.Equal(t, []string{"TASK_STARTED", "TASK_PROGRESS", "TASK_MESSAGE", "TASK_MESSAGE", "TASK_MESSAGE", "TASK_MESSAGE",
		"TASK_PROGRESS", "TASK_COMPLETED"}, types(events))
	requireDense(t, "the history", events)
	var tick struct{ Message string }
	require.NoError(t, json.Unmarshal(events[3].Payload, &tick))
	require.Len(t, tick.Message, 64, "ticks are padded to payloadBytes")
	require.JSONEq(t, `{"result":{"answer":42}}`, string(events[7].Payload))

	snap, err := h.client(t, "alice").GetTaskWithResponse(t.Context(), id)
	require.NoError(t, err)
	require.NotNil(t, snap.JSON200, "body: %s", snap.Body)
	require.Equal(t, gen.TaskStatusCompleted, snap.JSON200.Status)
	require.Equal(t, "scripted", snap.JSON200.TaskType)
	require.Equal(t, "8", *snap.JSON200.LastEventId)
	require.Nil(t, snap.JSON200.OpenSuspension)
	require.False(t, snap.JSON200.UpdatedAt.Before(snap.JSON200.CreatedAt))
	require.Equal(t, &gen.TaskProgressPayload{Progress: 100}, snap.JSON200.Progress, "the newest progress")
	require.Equal(t, map[string]any{"answer": float64(42)}, snap.JSON200.Result)
	require.Nil(t, snap.JSON200.Failure)
	require.Nil(t, snap.JSON200.CancelReason)
}

func TestStepsWithoutTerminalCompleteWithNull(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "no-terminal", step("message", map[string]any{"message": "only"}))
	events := h.follow(t, "alice", id)
	require.Equal(t, []string{"TASK_STARTED", "TASK_MESSAGE", "TASK_COMPLETED"}, types(events))
	require.JSONEq(t, `{"result":null}`, string(events[2].Payload))
}

func TestScriptedFailStep(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "fails", step("fail", map[string]any{"code": "BOOM", "message": "it broke", "retryable": true}))
	events := h.follow(t, "alice", id)
	require.Equal(t, []string{"TASK_STARTED", "TASK_FAILED"}, types(events))
	require.JSONEq(t, `{"code":"BOOM","message":"it broke","retryable":true}`, string(events[1].Payload))

	snap, err := h.client(t, "alice").GetTaskWithResponse(t.Context(), id)
	require.NoError(t, err)
	require.NotNil(t, snap.JSON200, "body: %s", snap.Body)
	require.Equal(t, &gen.TaskFailedPayload{Code: "BOOM", Message: "it broke", Retryable: true}, snap.JSON200.Failure)
	require.Nil(t, snap.JSON200.Result)
	require.Nil(t, snap.JSON200.Progress)
}

func TestEchoTask(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	c := h.client(t, "alice")
	input := gen.JSONObject{"text": "ping", "n": 3.5}
	res, err := c.CreateTaskWithResponse(t.Context(), gen.CreateTaskRequest{ClientRequestId: "echo-1", TaskType: "echo", Input: &input})
	require.NoError(t, err)
	require.NotNil(t, res.JSON201, "body: %s", res.Body)
	require.Equal(t, "echo-1", res.JSON201.ClientRequestId)
	require.False(t, res.JSON201.Deduplicated)
	events := h.follow(t, "alice", res.JSON201.TaskId)
	require.Equal(t, []string{"TASK_STARTED", "TASK_COMPLETED"}, types(events))
	require.JSONEq(t, `{"result":{"text":"ping","n":3.5}}`, string(events[1].Payload))
}

func TestCreateIsIdempotentPerOwnerAndRequestID(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	body := func(input, metadata map[string]any) map[string]any {
		b := map[string]any{"clientRequestId": "same", "taskType": "echo", "input": input}
		if metadata != nil {
			b["metadata"] = metadata
		}
		return b
	}
	first := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", body(map[string]any{"a": 1}, map[string]any{"m": 1}))
	require.Equal(t, http.StatusCreated, first.status, "body: %s", first.body)
	var created gen.CreateTaskResponse
	require.NoError(t, json.Unmarshal(first.body, &created))

	t.Run("same request, other metadata: 200 deduplicated", func(t *testing.T) {
		r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", body(map[string]any{"a": 1}, map[string]any{"m": 2}))
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		var again gen.CreateTaskResponse
		require.NoError(t, json.Unmarshal(r.body, &again))
		require.True(t, again.Deduplicated)
		require.Equal(t, created.TaskId, again.TaskId)
		require.Equal(t, created.CreatedAt, again.CreatedAt)
	})
	t.Run("other input: 409 naming the task of the key", func(t *testing.T) {
		r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", body(map[string]any{"a": 2}, nil))
		details := requireEnvelope(t, r, http.StatusConflict, gen.ErrorCodeIdempotencyConflict)
		require.Equal(t, created.TaskId, details["taskId"])
	})
	t.Run("other task type: 409", func(t *testing.T) {
		r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "alice", map[string]any{
			"clientRequestId": "same", "taskType": "scripted", "input": map[string]any{"steps": []any{}}})
		requireEnvelope(t, r, http.StatusConflict, gen.ErrorCodeIdempotencyConflict)
	})
	t.Run("another owner: a task of its own", func(t *testing.T) {
		r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", "bob", body(map[string]any{"a": 1}, nil))
		require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
		var other gen.CreateTaskResponse
		require.NoError(t, json.Unmarshal(r.body, &other))
		require.NotEqual(t, created.TaskId, other.TaskId)
	})
}

func TestConcurrentIdenticalCreatesMakeOneTask(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	c := h.client(t, "carol")
	input := gen.JSONObject{"steps": []any{}}
	const n = 50
	var wg sync.WaitGroup
	results := make([]*gen.CreateTaskClientResponse, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = c.CreateTaskWithResponse(t.Context(), gen.CreateTaskRequest{ClientRequestId: "race", TaskType: "scripted", Input: &input})
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	createdCount := 0
	for i := range n {
		require.NoError(t, errs[i])
		switch results[i].StatusCode() {
		case http.StatusCreated:
			createdCount++
			ids[results[i].JSON201.TaskId] = true
		case http.StatusOK:
			require.True(t, results[i].JSON200.Deduplicated)
			ids[results[i].JSON200.TaskId] = true
		default:
			t.Fatalf("status %d: %s", results[i].StatusCode(), results[i].Body)
		}
	}
	require.Equal(t, 1, createdCount, "exactly one create made the task")
	require.Len(t, ids, 1, "every create answered with the same task")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	cancel := func(t *testing.T, id string, body any) gen.CancelTaskResponse {
		t.Helper()
		var r response
		if body == nil {
			r = h.do(t, http.MethodPost, "/api/v1/tasks/"+id+"/cancel", "alice", "", nil)
		} else {
			r = h.doJSON(t, http.MethodPost, "/api/v1/tasks/"+id+"/cancel", "alice", body)
		}
		require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
		var c gen.CancelTaskResponse
		require.NoError(t, json.Unmarshal(r.body, &c))
		require.Equal(t, id, c.TaskId)
		return c
	}

	t.Run("while sleeping, keeps the reason, idempotent", func(t *testing.T) {
		id := h.createScripted(t, "alice", "cancel-sleep", step("sleepMs", 600000))
		h.waitFor(t, "alice", id, "TASK_STARTED")
		require.Equal(t, gen.CancelTaskResponseStatusCancellationRequested, cancel(t, id, map[string]any{"reason": "user_left"}).Status)
		second := cancel(t, id, map[string]any{"reason": "other"}).Status
		require.Contains(t, []gen.CancelTaskResponseStatus{gen.CancelTaskResponseStatusCancellationRequested, gen.CancelTaskResponseStatusAlreadyTerminal}, second)
		events := h.follow(t, "alice", id)
		require.Equal(t, []string{"TASK_STARTED", "TASK_CANCELLED"}, types(events))
		require.JSONEq(t, `{"reason":"user_left"}`, string(events[1].Payload))
		require.Equal(t, gen.CancelTaskResponseStatusAlreadyTerminal, cancel(t, id, nil).Status)
		snap, err := h.client(t, "alice").GetTaskWithResponse(t.Context(), id)
		require.NoError(t, err)
		require.NotNil(t, snap.JSON200.CancelReason)
		require.Equal(t, "user_left", *snap.JSON200.CancelReason, "the snapshot tells why it was cancelled")
	})
	t.Run("while ticking, default reason", func(t *testing.T) {
		id := h.createScripted(t, "alice", "cancel-ticks", step("ticks", map[string]any{"count": 1000000, "intervalMs": 1, "payloadBytes": 0}))
		h.waitFor(t, "alice", id, "TASK_MESSAGE")
		require.Equal(t, gen.CancelTaskResponseStatusCancellationRequested, cancel(t, id, nil).Status)
		events := h.follow(t, "alice", id)
		last := events[len(events)-1]
		require.Equal(t, "TASK_CANCELLED", last.Type)
		require.JSONEq(t, `{"reason":"cancelled_by_user"}`, string(last.Payload))
	})
	t.Run("while suspended, closes the suspension", func(t *testing.T) {
		id := h.createScripted(t, "alice", "cancel-suspended",
			step("suspend", map[string]any{"reasonCode": "APPROVAL", "allowedActions": []string{"approve"}}))
		h.waitFor(t, "alice", id, "TASK_SUSPENDED")
		require.Equal(t, gen.CancelTaskResponseStatusCancellationRequested, cancel(t, id, map[string]any{"reason": null()}).Status)
		events := h.follow(t, "alice", id)
		require.Equal(t, []string{"TASK_STARTED", "TASK_SUSPENDED", "TASK_CANCELLED"}, types(events))
		snap, err := h.client(t, "alice").GetTaskWithResponse(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, gen.TaskStatusCancelled, snap.JSON200.Status)
		require.Nil(t, snap.JSON200.OpenSuspension, "cancel closed the suspension")
	})
}

func null() any { return nil }

func TestCancelBeforeStart(t *testing.T) {
	t.Parallel()
	h := startHost(t, "-max-concurrent", "1")
	blocker := h.createScripted(t, "alice", "blocker", step("sleepMs", 600000))
	h.waitFor(t, "alice", blocker, "TASK_STARTED")
	queued := h.createScripted(t, "alice", "queued", step("complete", map[string]any{"result": 1}))
	r := h.do(t, http.MethodPost, "/api/v1/tasks/"+queued+"/cancel", "alice", "", nil)
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	require.Equal(t, []string{"TASK_CANCELLED"}, types(h.follow(t, "alice", queued)), "a task cancelled before it started never starts")
	h.do(t, http.MethodPost, "/api/v1/tasks/"+blocker+"/cancel", "alice", "", nil)
	require.Equal(t, []string{"TASK_STARTED", "TASK_CANCELLED"}, types(h.follow(t, "alice", blocker)))
}
