package api_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

func example(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(protocolDir(t), "examples", name))
	require.NoError(t, err)
	return data
}

func TestDecodeClientFrame(t *testing.T) {
	f, err := gen.DecodeTaskStreamClientFrame(example(t, "websocket_subscribe_request.json"))
	require.NoError(t, err)
	sub, ok := f.(gen.SubscribeFrame)
	require.True(t, ok, "%T", f)
	require.Equal(t, "task_123", sub.TaskId)
	require.Equal(t, "4", *sub.LastEventId)

	for name, frame := range map[string]string{
		"not JSON":         `{"action":`,
		"not an object":    `["subscribe"]`,
		"no action":        `{"taskId":"t1"}`,
		"unknown action":   `{"action":"unsubscribe","taskId":"t1"}`,
		"no taskId":        `{"action":"subscribe"}`,
		"unknown property": `{"action":"subscribe","taskId":"t1","since":"4"}`,
		"taskId a number":  `{"action":"subscribe","taskId":7}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := gen.DecodeTaskStreamClientFrame([]byte(frame))
			require.ErrorIs(t, err, gen.ErrInvalidFrame)
		})
	}
}

func TestDecodeServerFrames(t *testing.T) {
	f, err := gen.DecodeTaskStreamServerFrame(example(t, "websocket_subscribe_ack.json"))
	require.NoError(t, err)
	require.IsType(t, gen.SubscriptionConfirmedFrame{}, f)

	f, err = gen.DecodeTaskStreamServerFrame(example(t, "websocket_heartbeat.json"))
	require.NoError(t, err)
	require.IsType(t, gen.HeartbeatFrame{}, f)

	for file, schema := range ourSchemaFor {
		if schema != "TaskEvent" {
			continue
		}
		t.Run(file, func(t *testing.T) {
			data := example(t, file)
			f, err := gen.DecodeTaskStreamServerFrame(data)
			require.NoError(t, err)
			event, ok := f.(gen.TaskEvent)
			require.True(t, ok, "%T", f)
			again, err := json.Marshal(event)
			require.NoError(t, err)
			require.JSONEq(t, string(data), string(again), "an event survives decode and encode")

			sse, err := gen.DecodeTaskEventStreamServerFrame(data)
			require.NoError(t, err)
			require.IsType(t, gen.TaskEvent{}, sse)
		})
	}

	_, err = gen.DecodeTaskStreamServerFrame([]byte(`{"type":"TASK_STARTED","taskId":"t","eventId":"1","createdAt":"2026-01-01T00:00:00Z","payload":{},"extra":1}`))
	require.ErrorIs(t, err, gen.ErrInvalidFrame, "an event with an unknown property")
}

// TestNewTaskEventMatchesTheReference builds one event of every type with the
// generated helpers and validates it against the reference schema.
func TestNewTaskEventMatchesTheReference(t *testing.T) {
	ref := reference(t, "task_event.schema.json")
	at := time.Date(2026, 11, 23, 9, 30, 0, 123456000, time.UTC)
	expires := at.Add(time.Hour)
	payloads := []gen.TaskEventPayload{
		gen.TaskStartedPayload{},
		gen.TaskProgressPayload{Progress: 35, Stage: ptr("upload")},
		gen.TaskMessagePayload{Message: "hello", Level: ptr(gen.TaskMessagePayloadLevelWarning)},
		gen.TaskSuspendedPayload{SuspendId: "s-1", Kind: gen.SuspensionKindUserActionRequired, ReasonCode: "confirm",
			AllowedActions: []string{"approve", "reject"}, SchemaVersion: 1, ExpiresAt: &expires},
		gen.TaskActionAcceptedPayload{SuspendId: "s-1", ClientActionId: "a-1", ActionType: "approve", AcceptedAt: at},
		gen.TaskCompletedPayload{Result: map[string]any{"label": "quartz"}},
		gen.TaskCompletedPayload{Result: nil},
		gen.TaskFailedPayload{Code: "BOOM", Message: "it broke", Retryable: true},
		gen.TaskCancelledPayload{Reason: "cancelled_by_user"},
	}
	seen := map[gen.TaskEventType]bool{}
	for _, p := range payloads {
		e, err := gen.NewTaskEvent("task-1", "5", at, p)
		require.NoError(t, err)
		data, err := json.Marshal(e)
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(data, &v))
		require.NoError(t, ref.Validate(v), "%s", data)

		typ, err := e.Type()
		require.NoError(t, err)
		require.Equal(t, p.TaskEventType(), typ)
		back, err := e.Payload()
		require.NoError(t, err)
		require.Equal(t, p, back)
		raw, err := json.Marshal(p)
		require.NoError(t, err)
		decoded, err := gen.DecodeTaskEventPayload(typ, raw)
		require.NoError(t, err)
		require.Equal(t, p, decoded)
		seen[typ] = true
	}
	require.Len(t, seen, len(gen.TaskEventTypes), "every event type is built once")

	for _, typ := range gen.TaskEventTypes {
		terminal := typ == gen.TaskEventTypeTaskCompleted || typ == gen.TaskEventTypeTaskFailed || typ == gen.TaskEventTypeTaskCancelled
		require.Equal(t, terminal, typ.IsTerminal(), typ)
	}
	require.False(t, gen.TaskEventType("HEARTBEAT").Valid())
}

func ptr[T any](v T) *T { return &v }
