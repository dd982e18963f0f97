package sse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/diag"
	"github.com/taskbridge-go/taskbridge/runtime/sse"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

type fixture struct {
	store  *memory.Store
	hub    *hub.Hub
	server *sse.Server
	url    string
	client *http.Client
	ended  chan string // task ids whose stream ended
	diag   *diag.Recorder
}

// newFixture serves streams over HTTP/1.1, or with http2 over HTTP/2 (and
// TLS). Its handler sets a header before the stream, as a CORS middleware
// would.
func newFixture(t *testing.T, s sse.Settings, http2 ...bool) *fixture {
	t.Helper()
	f := &fixture{store: memory.New(), ended: make(chan string, 1024), diag: diag.NewRecorder(1024)}
	f.hub = hub.New(f.store, hub.Config{})
	done := make(chan error, 1)
	go func() { done <- f.hub.Run(context.Background()) }()
	s.Diagnostics = f.diag
	f.server = sse.New(f.hub, s, nil)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		id := r.URL.Query().Get("task")
		caller := taskbridge.Principal{Subject: "o"}
		ended := func() { f.ended <- id }
		w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
		task, err := f.store.GetTask(r.Context(), id) // as the services hand it over
		if err != nil {
			task = taskbridge.Task{NewTask: taskbridge.NewTask{ID: id}}
		}
		_ = f.server.SSE(r.Context(), caller, task, after, ended).ServeStream(w, r)
	}))
	if len(http2) > 0 && http2[0] {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	f.url, f.client = srv.URL, srv.Client()
	t.Cleanup(func() {
		f.hub.Close()
		require.NoError(t, <-done)
		require.NoError(t, f.server.Shutdown(context.Background()))
		srv.Close()
	})
	return f
}

func (f *fixture) task(t *testing.T) string {
	t.Helper()
	id := rand.N[uint64](1 << 62)
	task := fmt.Sprintf("t%d", id)
	_, _, err := f.store.CreateTask(t.Context(), taskbridge.NewTask{ID: task, Owner: "o", ClientRequestID: task, Type: "job",
		Input: json.RawMessage("null"), Fingerprint: "f", CreatedAt: time.Now()})
	require.NoError(t, err)
	return task
}

func (f *fixture) message(t *testing.T, task, text string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"message": text})
	_, err := f.store.Append(context.Background(), task, taskbridge.Append{Type: taskbridge.EventMessage, Payload: payload})
	require.NoError(t, err)
}

func (f *fixture) complete(t *testing.T, task string) {
	t.Helper()
	_, err := f.store.Append(context.Background(), task, taskbridge.Append{Type: taskbridge.EventCompleted, Payload: json.RawMessage(`{"result":null}`), Status: taskbridge.StatusCompleted})
	require.NoError(t, err)
}

// frame is one parsed SSE frame.
type frame struct {
	id, data, comment, retry string
	hasID                    bool
}

// open starts a stream and returns its response and a frame reader.
func (f *fixture) open(t *testing.T, task string, after uint64) (*http.Response, func() (frame, bool)) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("%s/?task=%s&after=%d", f.url, task, after), nil)
	require.NoError(t, err)
	res, err := f.client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<22)
	next := func() (frame, bool) {
		var fr frame
		seen := false
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if seen {
					return fr, true
				}
				continue
			}
			seen = true
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "":
				fr.comment = value
			case "id":
				fr.id, fr.hasID = value, true
			case "data":
				fr.data = value
			case "retry":
				fr.retry = value
			default:
				t.Errorf("unexpected field %q in %q", field, line)
			}
		}
		return fr, false
	}
	return res, next
}

func TestFramingReplayLiveAndEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{})
	task := f.task(t)
	f.message(t, task, "one")
	f.message(t, task, "two")
	res, next := f.open(t, task, 1)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	require.Equal(t, "no-cache, no-transform", res.Header.Get("Cache-Control"))
	require.Equal(t, "no", res.Header.Get("X-Accel-Buffering"))
	require.Equal(t, "https://app.example", res.Header.Get("Access-Control-Allow-Origin"), "headers set before the stream are kept")
	require.Equal(t, []string{"chunked"}, res.TransferEncoding)
	require.True(t, res.Close, "the stream's connection closes after it")
	require.NotEmpty(t, res.Header.Get("Date"))

	fr, ok := next()
	require.True(t, ok)
	require.Equal(t, "3000", fr.retry)

	fr, ok = next()
	require.True(t, ok)
	require.Equal(t, "2", fr.id, "replay starts strictly after the cursor")
	var e map[string]any
	require.NoError(t, json.Unmarshal([]byte(fr.data), &e))
	require.Equal(t, "TASK_MESSAGE", e["type"])
	require.Equal(t, "2", e["eventId"])
	require.Equal(t, task, e["taskId"])

	f.message(t, task, "three") // live
	fr, ok = next()
	require.True(t, ok)
	require.Equal(t, "3", fr.id)
	f.complete(t, task)
	fr, ok = next()
	require.True(t, ok)
	require.Equal(t, "4", fr.id)
	_, ok = next()
	require.False(t, ok, "the response ends after the terminal event")

	closed := f.diag.Closed()
	require.Equal(t, taskbridge.StreamEnded, closed.Reason)
	require.Equal(t, 3, closed.Events)
	require.Equal(t, uint64(4), closed.Cursor)
	require.Equal(t, "sse", closed.Transport)
	require.NoError(t, closed.Err)
	require.True(t, closed.Opened)
	opened := f.diag.Opened()
	require.Len(t, opened, 1)
	require.Equal(t, taskbridge.StreamEvent{Kind: taskbridge.StreamOpened, Transport: "sse", ConnID: closed.ConnID, TaskID: task, Subject: "o", Cursor: 1}, opened[0])
	replayed := f.diag.Replayed()
	require.Len(t, replayed, 1, "the stream had one event to replay")
	require.Equal(t, taskbridge.StreamReplayed, replayed[0].Kind)
	require.Equal(t, 1, replayed[0].Events)
	require.Equal(t, uint64(2), replayed[0].Cursor)
}

// TestAStreamOverHTTP2IsServedOnItsRequest: an HTTP/2 stream cannot take
// its connection over, and is served as a response of its own.
func TestAStreamOverHTTP2IsServedOnItsRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{}, true)
	task := f.task(t)
	f.message(t, task, "one")
	res, next := f.open(t, task, 0)
	require.Equal(t, 2, res.ProtoMajor)
	require.Equal(t, "https://app.example", res.Header.Get("Access-Control-Allow-Origin"))
	fr, ok := next()
	require.True(t, ok)
	require.Equal(t, "3000", fr.retry)
	fr, ok = next()
	require.True(t, ok)
	require.Equal(t, "1", fr.id)
	f.complete(t, task)
	fr, ok = next()
	require.True(t, ok)
	require.Equal(t, "2", fr.id)
	_, ok = next()
	require.False(t, ok, "the response ends after the terminal event")
	require.Equal(t, task, <-f.ended)
	require.Equal(t, taskbridge.StreamEnded, f.diag.Closed().Reason)
}

func TestAClientThatLeavesEndsItsStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{})
	task := f.task(t)
	res, next := f.open(t, task, 0)
	next() // retry
	require.NoError(t, res.Body.Close())
	require.Equal(t, task, <-f.ended)
	closed := f.diag.Closed()
	require.Equal(t, taskbridge.StreamClientGone, closed.Reason)
	require.Zero(t, closed.Events)
}

func TestHeartbeatWhenIdle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{HeartbeatInterval: 5 * time.Millisecond})
	task := f.task(t)
	_, next := f.open(t, task, 0)
	next() // retry
	fr, ok := next()
	require.True(t, ok)
	require.Equal(t, "ping", fr.comment)
	require.False(t, fr.hasID, "a heartbeat has no id, so it is never a cursor")
	var hb map[string]any
	require.NoError(t, json.Unmarshal([]byte(fr.data), &hb))
	require.Equal(t, "HEARTBEAT", hb["type"])
	require.Equal(t, task, hb["taskId"])
	require.True(t, strings.HasPrefix(hb["eventId"].(string), "hb-"))
	require.Equal(t, map[string]any{"live": true}, hb["payload"])
	_, err := time.Parse(time.RFC3339Nano, hb["createdAt"].(string))
	require.NoError(t, err)
}

func TestHubCloseEndsStreams(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{})
	task := f.task(t)
	_, next := f.open(t, task, 0)
	next() // retry
	f.hub.Close()
	_, ok := next()
	require.False(t, ok, "the stream ends when the hub shuts down")
	require.Equal(t, taskbridge.StreamShutdown, f.diag.Closed().Reason)
	require.NoError(t, f.server.Shutdown(t.Context()), "Shutdown finds the stream ended")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url+"/?task="+task, nil)
	require.NoError(t, err)
	res, err := f.client.Do(req)
	if err == nil {
		res.Body.Close()
	}
	require.Error(t, err, "after Shutdown a stream's connection is closed at once")
}

// TestShutdownClosesTheStreamsThatOutlastIt: a stream whose hub stays open
// does not end by itself; Shutdown closes its connection when its context
// ends, and the stream ends.
func TestShutdownClosesTheStreamsThatOutlastIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{})
	task := f.task(t)
	_, next := f.open(t, task, 0)
	next() // retry
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, f.server.Shutdown(ctx), context.DeadlineExceeded)
	require.Equal(t, task, <-f.ended)
	_, ok := next()
	require.False(t, ok)
}

// TestAClientThatStopsReadingIsCut fills the socket of a client that never
// reads: its stream ends by write timeout, while another reader of the same
// task receives every event. The write timeout is short enough for the test
// to end soon and long enough that the reading client, slowed by the race
// detector, is never cut itself.
func TestAClientThatStopsReadingIsCut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{WriteTimeout: 500 * time.Millisecond})
	task := f.task(t)
	stalled, _ := f.open(t, task, 0)
	_ = stalled // never read
	_, next := f.open(t, task, 0)
	next() // retry
	big := strings.Repeat("x", 64<<10)
	const n = 400 // 25 MiB, more than any socket buffers
	got := make(chan int, 1)
	go func() {
		count := 0
		for {
			fr, ok := next()
			if !ok {
				got <- count
				return
			}
			if fr.hasID {
				count++
			}
		}
	}()
	for range n {
		f.message(t, task, big)
	}
	require.Equal(t, task, <-f.ended, "the stalled stream ended first")
	stalledEnd := f.diag.Closed()
	require.Equal(t, taskbridge.StreamSlowReader, stalledEnd.Reason, "%v", stalledEnd.Err)
	require.Less(t, stalledEnd.Events, n)
	require.Positive(t, stalledEnd.Behind, "a slow reader's close tells how far behind it was")
	f.complete(t, task)
	require.Equal(t, n+1, <-got, "the reading client got every event")
	require.Equal(t, taskbridge.StreamEnded, f.diag.Closed().Reason)
}

// TestGapFreeUnderConcurrentAppends races 1,000 appends against the start of
// three streams with random cursors, 100 times, and requires of each exactly
// the events after its cursor, in order, once each. Several readers per task
// make them serve one another from the hub's cache.
func TestGapFreeUnderConcurrentAppends(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sse.Settings{})
	const rounds, appends, readers = 100, 1000, 3
	for round := range rounds {
		task := f.task(t)
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range appends - 1 {
				f.message(t, task, strconv.Itoa(i))
			}
			f.complete(t, task)
		})
		for range readers {
			cursor := rand.N[uint64](appends / 2)
			_, next := f.open(t, task, cursor)
			wg.Go(func() {
				want := cursor + 1
				for {
					fr, ok := next()
					if !ok {
						break
					}
					if !fr.hasID {
						continue
					}
					if fr.id != strconv.FormatUint(want, 10) {
						t.Errorf("round %d, cursor %d: got id %s, want %d (gap, duplicate or reordering)", round, cursor, fr.id, want)
						return
					}
					want++
				}
				if want != appends+1 {
					t.Errorf("round %d, cursor %d: the stream ended at %d", round, cursor, want-1)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// BenchmarkStream serves a stream of 1,000 stored events (through the hub's
// cache) into a recorder: the SSE write path without the network.
func BenchmarkStream(b *testing.B) {
	store := memory.New()
	h := hub.New(store, hub.Config{CacheEvents: 2048})
	ctx := b.Context()
	_, _, err := store.CreateTask(ctx, taskbridge.NewTask{ID: "t", Owner: "o", ClientRequestID: "t", Type: "job",
		Input: json.RawMessage("null"), Fingerprint: "f", CreatedAt: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	const events = 1000
	for range events - 1 {
		_, _ = store.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{"message":"tick"}`)})
	}
	_, _ = store.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventCompleted, Payload: json.RawMessage(`{"result":null}`), Status: taskbridge.StatusCompleted})
	server := sse.New(h, sse.Settings{}, nil)
	task := taskbridge.Task{NewTask: taskbridge.NewTask{ID: "t"}}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		rec := httptest.NewRecorder()
		if err := server.SSE(ctx, taskbridge.Principal{Subject: "o"}, task, 0, nil).ServeStream(rec, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
}
