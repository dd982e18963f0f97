package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// dialWS opens the task WebSocket as a browser would: the token in the query.
func (h *host) dialWS(t *testing.T, subject string) *websocket.Conn {
	t.Helper()
	url := strings.Replace(h.base, "http://", "ws://", 1) + "/api/v1/tasks/ws?access_token=" + subject
	conn, res, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil)
	require.NoError(t, err)
	res.Body.Close()
	t.Cleanup(func() { conn.Close() })
	return conn
}

// wsEvents reads a subscription to its close and returns the events and the
// close code; the confirmation is checked on the way.
func wsEvents(t *testing.T, conn *websocket.Conn, taskID string, cursor *string) ([]wireEvent, int) {
	t.Helper()
	var confirmed gen.SubscriptionConfirmedFrame
	require.NoError(t, conn.ReadJSON(&confirmed))
	require.Equal(t, gen.SubscriptionConfirmedFrameTypeSubscriptionConfirmed, confirmed.Type)
	require.Equal(t, taskID, confirmed.TaskId)
	require.Equal(t, cursor, confirmed.ReplayStartedAfterEventId)
	var events []wireEvent
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			return events, ce.Code
		}
		var frame struct{ Type string }
		require.NoError(t, json.Unmarshal(data, &frame))
		if frame.Type == "HEARTBEAT" {
			continue
		}
		events = append(events, checkEvent(t, taskID, data))
	}
}

func TestWebSocketFollowsATaskLikeAPoll(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "ws",
		step("ticks", map[string]any{"count": 50, "intervalMs": 1, "payloadBytes": 16}),
		step("complete", map[string]any{"result": 7}))
	conn := h.dialWS(t, "alice")
	require.NoError(t, conn.WriteJSON(map[string]any{"action": "subscribe", "taskId": id}))
	live, code := wsEvents(t, conn, id, nil)
	require.Equal(t, websocket.CloseNormalClosure, code, "1000 after the terminal event")
	require.Equal(t, h.follow(t, "alice", id), live, "the WebSocket and polling see the same history")

	cursor := live[9].EventID
	again := h.dialWS(t, "alice")
	require.NoError(t, again.WriteJSON(map[string]any{"action": "subscribe", "taskId": id, "lastEventId": cursor}))
	resumed, code := wsEvents(t, again, id, &cursor)
	require.Equal(t, websocket.CloseNormalClosure, code)
	require.Equal(t, live[10:], resumed)
}

func TestWebSocketPolicyViolations(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "private", step("sleepMs", 600000))
	for name, frame := range map[string]string{
		"malformed JSON":   `{"action":`,
		"unknown action":   `{"action":"unsubscribe","taskId":"` + id + `"}`,
		"malformed cursor": `{"action":"subscribe","taskId":"` + id + `","lastEventId":"01"}`,
		"another's task":   `{"action":"subscribe","taskId":"` + id + `"}`,
		"missing task":     `{"action":"subscribe","taskId":"NOSUCHTASK"}`,
		"unknown field":    `{"action":"subscribe","taskId":"` + id + `","extra":1}`,
		"cursor ahead":     `{"action":"subscribe","taskId":"` + id + `","lastEventId":"999"}`,
	} {
		t.Run(name, func(t *testing.T) {
			conn := h.dialWS(t, "mallory")
			if name != "another's task" && name != "missing task" {
				conn = h.dialWS(t, "alice")
			}
			require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(frame)))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					require.ErrorAs(t, err, &ce)
					require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
					return
				}
			}
		})
	}
	h.do(t, "POST", "/api/v1/tasks/"+id+"/cancel", "alice", "", nil)
}
