package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/internal/pgtest"
)

// peakRSS is the most resident memory the process has had, in bytes.
func peakRSS(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to measure the host's memory: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// slowReader reads r at about rate bytes a second.
type slowReader struct {
	r    io.Reader
	rate int
}

func (s slowReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	time.Sleep(time.Duration(n) * time.Second / time.Duration(s.rate)) // pacing, not an assertion
	return n, err
}

// TestLargeEventsTakeBoundedMemory gives a task 150 events of 1 MB, then
// follows it with 10 SSE readers that read slower than the host could
// write, and with 5 polls at once: every reader gets every event, and the
// host's memory stays bounded, because no reader's batch, buffer or poll
// holds more than a few of the events at a time. The host runs on
// PostgreSQL, so that what its memory holds is the readers' share alone
// (over the memory store the 150 MB of events live in the host's heap,
// which the garbage collector lets grow to twice that before it collects).
func TestLargeEventsTakeBoundedMemory(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	h := startReplica(t, buildHost(t), "-store", "postgres", "-postgres-url", dbURL, "-postgres-schema", pgtest.Schema(t, dbURL, "tblarge"))
	h.awaitReady(t)
	const ticks, size = 150, 1_000_000
	id := h.createScripted(t, "alice", "large",
		step("ticks", map[string]any{"count": ticks, "intervalMs": 0, "payloadBytes": size}),
		step("complete", map[string]any{"result": "ok"}))
	for h.lastEventID(t, "alice", id) < ticks+2 {
		time.Sleep(50 * time.Millisecond) // pacing, not an assertion
	}
	before := peakRSS(t, h.cmd.Process.Pid)
	start := time.Now()

	var wg sync.WaitGroup
	errs := make(chan error, 15)
	for range 10 {
		wg.Go(func() { errs <- readSSE(h.base, id, ticks+2, 20<<20) })
	}
	for range 5 {
		wg.Go(func() { errs <- readPolls(h.base, id, ticks+2) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	peak := peakRSS(t, h.cmd.Process.Pid)
	t.Logf("host peak RSS: %d MiB after the task, %d MiB after the readers (%v)", before>>20, peak>>20, time.Since(start))
	require.Less(t, peak, 300<<20, "the host's peak resident memory")
}

// readSSE follows the task over SSE at rate bytes a second and checks that
// every event arrives once, in order; it keeps no payload.
func readSSE(base, taskID string, events, rate int) error {
	res, err := http.Get(base + "/api/v1/tasks/" + taskID + "/events/stream?access_token=alice")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	r := bufio.NewReaderSize(slowReader{res.Body, rate}, 64<<10)
	next := 1
	for next <= events {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull { // the rest of a long data line
				_, err = r.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("SSE after event %d: %w", next-1, err)
		}
		if id, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
			if got := string(bytes.TrimSpace(id)); got != strconv.Itoa(next) {
				return fmt.Errorf("SSE: event %s, want %d", got, next)
			}
			next++
		}
	}
	return nil
}

// readPolls reads the whole history page by page and checks it.
func readPolls(base, taskID string, events int) error {
	cursor, next := "", 1
	for next <= events {
		url := base + "/api/v1/tasks/" + taskID + "/events?access_token=alice&maxEvents=500"
		if cursor != "" {
			url += "&afterEventId=" + cursor
		}
		res, err := http.Get(url)
		if err != nil {
			return err
		}
		var page struct {
			Events []struct {
				EventID string `json:"eventId"`
			} `json:"events"`
			HasMore          bool    `json:"hasMore"`
			NextAfterEventID *string `json:"nextAfterEventId"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return fmt.Errorf("poll after %s: status %d, %v", cursor, res.StatusCode, err)
		}
		if len(page.Events) == 0 {
			return fmt.Errorf("poll after %s: no events, hasMore %v", cursor, page.HasMore)
		}
		for _, e := range page.Events {
			if e.EventID != strconv.Itoa(next) {
				return fmt.Errorf("poll: event %s, want %d", e.EventID, next)
			}
			next++
		}
		if next <= events && !page.HasMore {
			return fmt.Errorf("poll after %s: hasMore false with events left", cursor)
		}
		cursor = *page.NextAfterEventID
	}
	return nil
}
