package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

func TestPollCursors(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "cursors", step("ticks", map[string]any{"count": 5, "intervalMs": 0, "payloadBytes": 0}))
	all := h.follow(t, "alice", id) // STARTED, 5 MESSAGE, COMPLETED
	require.Len(t, all, 7)

	t.Run("no cursor: from the start", func(t *testing.T) {
		p := h.poll(t, "alice", id, "")
		require.Len(t, p.Events, 7)
		require.False(t, p.HasMore)
		require.Equal(t, "7", *p.NextAfterEventID)
		require.Equal(t, id, p.TaskID)
	})
	t.Run("pages with maxEvents and hasMore", func(t *testing.T) {
		p := h.poll(t, "alice", id, "maxEvents=3")
		require.Len(t, p.Events, 3)
		require.True(t, p.HasMore)
		require.Equal(t, "3", *p.NextAfterEventID)
		p = h.poll(t, "alice", id, "maxEvents=3&afterEventId=3")
		require.Equal(t, "4", checkEvent(t, id, p.Events[0]).EventID)
		require.True(t, p.HasMore)
		p = h.poll(t, "alice", id, "maxEvents=3&afterEventId=6")
		require.Len(t, p.Events, 1)
		require.False(t, p.HasMore)
		require.Equal(t, "7", *p.NextAfterEventID)
	})
	t.Run("cursor at the head: empty, the cursor is kept", func(t *testing.T) {
		p := h.poll(t, "alice", id, "afterEventId=7")
		require.Empty(t, p.Events)
		require.False(t, p.HasMore)
		require.Equal(t, "7", *p.NextAfterEventID)
	})
	t.Run("cursor ahead of the head: 400 naming it, not a silent empty page", func(t *testing.T) {
		for _, cursor := range []string{"8", "999"} {
			r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"/events?waitTimeoutMs=60000&afterEventId="+cursor, "alice", "", nil)
			details := requireEnvelope(t, r, http.StatusBadRequest, gen.ErrorCodeInvalidRequest)
			require.Equal(t, "afterEventId", details["field"], cursor)
			require.Equal(t, "7", details["lastEventId"], "the envelope tells the task's newest eventId")
		}
	})
	t.Run("waiting on an ended task answers at once", func(t *testing.T) {
		p := h.poll(t, "alice", id, "afterEventId=7&waitTimeoutMs=60000")
		require.Empty(t, p.Events)
	})
	t.Run("malformed cursors: 400 naming it", func(t *testing.T) {
		for _, cursor := range []string{"abc", "-1", "01", "1.5", "1-0", "%20", "18446744073709551616"} {
			r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"/events?afterEventId="+cursor, "alice", "", nil)
			details := requireEnvelope(t, r, http.StatusBadRequest, gen.ErrorCodeInvalidRequest)
			require.Equal(t, "afterEventId", details["field"], cursor)
		}
	})
	t.Run("out-of-range query values: 422 naming them", func(t *testing.T) {
		for q, field := range map[string]string{
			"maxEvents=0": "maxEvents", "maxEvents=501": "maxEvents", "maxEvents=x": "maxEvents",
			"waitTimeoutMs=-1": "waitTimeoutMs", "waitTimeoutMs=60001": "waitTimeoutMs",
		} {
			r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"/events?"+q, "alice", "", nil)
			details := requireEnvelope(t, r, http.StatusUnprocessableEntity, gen.ErrorCodeRequestValidationError)
			require.Equal(t, field, details["field"], q)
		}
	})
}

func TestEmptyPollWithoutCursorHasNullNext(t *testing.T) {
	t.Parallel()
	h := startHost(t, "-max-concurrent", "1")
	blocker := h.createScripted(t, "alice", "blocker", step("sleepMs", 600000))
	h.waitFor(t, "alice", blocker, "TASK_STARTED")
	queued := h.createScripted(t, "alice", "queued")
	p := h.poll(t, "alice", queued, "")
	require.Empty(t, p.Events, "a task waiting for a slot has no events yet")
	require.Nil(t, p.NextAfterEventID)
	h.do(t, http.MethodPost, "/api/v1/tasks/"+blocker+"/cancel", "alice", "", nil)
}

func TestLongPollWakesOnTheNextEvent(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id, suspendID := h.suspended(t, "alice", "long-poll",
		map[string]any{"reasonCode": "APPROVAL", "allowedActions": []string{"approve"}})
	head := h.poll(t, "alice", id, "")
	cursor := *head.NextAfterEventID

	got := make(chan pollPage, 1)
	go func() { got <- h.poll(t, "alice", id, "waitTimeoutMs=60000&afterEventId="+cursor) }()
	status, _, _ := h.act(t, "alice", id, action("go", suspendID, "approve", nil))
	require.Equal(t, http.StatusAccepted, status)
	page := <-got
	require.NotEmpty(t, page.Events, "the wait ended with the new event, not its deadline")
	require.Equal(t, "TASK_ACTION_ACCEPTED", checkEvent(t, id, page.Events[0]).Type)
}

func TestSSEAfterTheEndIs204(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	id := h.createScripted(t, "alice", "ended", step("message", map[string]any{"message": "m"}))
	require.Len(t, h.follow(t, "alice", id), 3)
	r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"/events/stream?lastEventId=3", "alice", "", nil)
	require.Equal(t, http.StatusNoContent, r.status, "a cursor at the terminal event tells EventSource to stop")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/api/v1/tasks/"+id+"/events/stream?lastEventId=1", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer alice")
	req.Header.Set("Last-Event-ID", "3")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode, "Last-Event-ID wins over lastEventId")
	r = h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"/events/stream?lastEventId=x9", "alice", "", nil)
	requireEnvelope(t, r, http.StatusBadRequest, gen.ErrorCodeInvalidRequest)
}

// A cursor ahead of the task's newest event cannot have come from its
// stream (another task's cursor): SSE answers 400 naming it, live task or
// ended, instead of a stream that waits for events that never come.
func TestSSECursorAheadIs400(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	live := h.createScripted(t, "alice", "live", step("sleepMs", 600000))
	h.waitFor(t, "alice", live, "TASK_STARTED")
	ended := h.createScripted(t, "alice", "ended")
	require.Len(t, h.follow(t, "alice", ended), 2)
	for _, id := range []string{live, ended} {
		r := h.do(t, http.MethodGet, "/api/v1/tasks/"+id+"/events/stream?lastEventId=999", "alice", "", nil)
		details := requireEnvelope(t, r, http.StatusBadRequest, gen.ErrorCodeInvalidRequest)
		require.Equal(t, "lastEventId", details["field"])
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/api/v1/tasks/"+id+"/events/stream", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer alice")
		req.Header.Set("Last-Event-ID", "3")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, "%s", body)
		require.Contains(t, string(body), `"field":"Last-Event-ID"`)
	}
	h.do(t, http.MethodPost, "/api/v1/tasks/"+live+"/cancel", "alice", "", nil)
}
