package taskbridge_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

func TestParseEventID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]uint64{"0": 0, "1": 1, "42": 42, "9223372036854775807": 1<<63 - 1} {
		got, err := taskbridge.ParseEventID(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got)
		require.Equal(t, s, taskbridge.FormatEventID(got))
	}
	for _, s := range []string{"", "01", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "5-0", "abc", "9223372036854775808", "18446744073709551616"} {
		_, err := taskbridge.ParseEventID(s)
		require.ErrorIs(t, err, taskbridge.ErrMalformedCursor, "%q", s)
	}
}

func TestStatusMoves(t *testing.T) {
	t.Parallel()
	ok := [][2]taskbridge.TaskStatus{
		{taskbridge.StatusAccepted, taskbridge.StatusRunning}, {taskbridge.StatusAccepted, taskbridge.StatusCancelled},
		{taskbridge.StatusRunning, taskbridge.StatusCompleted}, {taskbridge.StatusRunning, taskbridge.StatusRunning},
	}
	for _, m := range ok {
		require.True(t, m[0].CanMoveTo(m[1]), "%s -> %s", m[0], m[1])
	}
	refused := [][2]taskbridge.TaskStatus{
		{taskbridge.StatusRunning, taskbridge.StatusAccepted}, {taskbridge.StatusCompleted, taskbridge.StatusFailed},
		{taskbridge.StatusCancelled, taskbridge.StatusCancelled},
	}
	for _, m := range refused {
		require.False(t, m[0].CanMoveTo(m[1]), "%s -> %s", m[0], m[1])
	}
}

func TestEndStatus(t *testing.T) {
	for typ, want := range map[taskbridge.EventType]taskbridge.TaskStatus{
		taskbridge.EventCompleted: taskbridge.StatusCompleted,
		taskbridge.EventFailed:    taskbridge.StatusFailed,
		taskbridge.EventCancelled: taskbridge.StatusCancelled,
		taskbridge.EventStarted:   "",
		taskbridge.EventSuspended: "",
	} {
		require.Equal(t, want, typ.EndStatus(), typ)
		require.Equal(t, typ.IsTerminal(), want != "", typ)
	}
}

func TestAppendKept(t *testing.T) {
	t.Parallel()
	payload := json.RawMessage(`{"x":1}`)
	for typ, want := range map[taskbridge.EventType]string{
		taskbridge.EventProgress:       "progress",
		taskbridge.EventCompleted:      "outcome",
		taskbridge.EventFailed:         "outcome",
		taskbridge.EventCancelled:      "outcome",
		taskbridge.EventStarted:        "",
		taskbridge.EventMessage:        "",
		taskbridge.EventSuspended:      "",
		taskbridge.EventActionAccepted: "",
	} {
		progress, outcome := taskbridge.Append{Type: typ, Payload: payload}.Kept()
		switch want {
		case "progress":
			require.Equal(t, payload, progress, typ)
			require.Nil(t, outcome, typ)
		case "outcome":
			require.Nil(t, progress, typ)
			require.Equal(t, payload, outcome, typ)
		default:
			require.Nil(t, progress, typ)
			require.Nil(t, outcome, typ)
		}
	}
}
