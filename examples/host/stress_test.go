package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGapFreeUnderConcurrentAppends races a task that appends 1,001 events
// as fast as it can against a long-poll follower and an SSE follower that
// start at once with random cursors among the events it appended so far (a
// cursor a client may hold), 100 rounds, and requires each to see exactly
// the events after its cursor, in order, once each.
func TestGapFreeUnderConcurrentAppends(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	const rounds, events = 100, 1001 // TASK_STARTED, 999 ticks, TASK_COMPLETED
	for round := range rounds {
		id := h.createScripted(t, "alice", fmt.Sprintf("stress-%d", round),
			step("ticks", map[string]any{"count": events - 2, "intervalMs": 0, "payloadBytes": 0}))
		var wg sync.WaitGroup
		check := func(transport string, cursor int, got []wireEvent) {
			require.Len(t, got, events-cursor, "%s round %d cursor %d", transport, round, cursor)
			for i, e := range got {
				require.Equal(t, strconv.Itoa(cursor+1+i), e.EventID, "%s round %d: gap, duplicate or reordering", transport, round)
			}
		}
		// Cursors before the newest event: when the task has already ended,
		// a cursor at its end has nothing after it, and a follower that
		// waits for the terminal event would poll forever.
		head := h.lastEventID(t, "alice", id)
		pollCursor, sseCursor := rand.N(max(head, 1)), rand.N(max(head, 1))
		// The SSE follower reads in its own goroutine; everything is checked
		// on the test's goroutine.
		var sseBody []byte
		var sseErr error
		wg.Go(func() {
			res, err := http.Get(h.base + "/api/v1/tasks/" + id + "/events/stream?access_token=alice&lastEventId=" + strconv.Itoa(sseCursor))
			if err != nil {
				sseErr = err
				return
			}
			defer res.Body.Close()
			sseBody, sseErr = io.ReadAll(res.Body)
		})
		var got []wireEvent
		cursor := strconv.Itoa(pollCursor)
		for len(got) == 0 || !terminal(got[len(got)-1].Type) {
			page := h.poll(t, "alice", id, "waitTimeoutMs=10000&maxEvents=500&afterEventId="+cursor)
			for _, raw := range page.Events {
				got = append(got, checkEvent(t, id, raw))
			}
			cursor = *page.NextAfterEventID
		}
		check("long-poll", pollCursor, got)
		wg.Wait()
		require.NoError(t, sseErr)
		check("SSE", sseCursor, parseSSE(t, sseBody, id))
	}
}
