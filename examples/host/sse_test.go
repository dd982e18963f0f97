package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sseEvents reads an SSE response to its end and returns the events (frames
// with an id), each checked against the reference schema.
func sseEvents(t *testing.T, res *http.Response, taskID string) []wireEvent {
	t.Helper()
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return parseSSE(t, body, taskID)
}

// parseSSE parses a whole SSE body.
func parseSSE(t *testing.T, body []byte, taskID string) []wireEvent {
	t.Helper()
	var events []wireEvent
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	id, data := "", ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "":
			if id != "" {
				e := checkEvent(t, taskID, json.RawMessage(data))
				require.Equal(t, id, e.EventID, "the id line is the event's eventId")
				events = append(events, e)
			}
			id, data = "", ""
		}
	}
	return events
}

func (h *host) sse(t *testing.T, path string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return res
}

func TestSSEFollowsATaskLikeAPoll(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "sse",
		step("progress", map[string]any{"progress": 10}),
		step("ticks", map[string]any{"count": 50, "intervalMs": 1, "payloadBytes": 32}),
		step("complete", map[string]any{"result": "ok"}))
	// A browser cannot set headers on EventSource: it authenticates by query.
	live := sseEvents(t, h.sse(t, "/api/v1/tasks/"+id+"/events/stream?access_token=alice", nil), id)
	polled := h.follow(t, "alice", id)
	require.Equal(t, polled, live, "SSE and polling see the same history")
	require.Equal(t, "TASK_COMPLETED", live[len(live)-1].Type)

	// Resuming with Last-Event-ID replays strictly after it.
	resumed := sseEvents(t, h.sse(t, "/api/v1/tasks/"+id+"/events/stream", http.Header{
		"Authorization": {"Bearer alice"}, "Last-Event-ID": {live[20].EventID}}), id)
	require.Equal(t, live[21:], resumed)
}
