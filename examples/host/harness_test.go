package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/internal/protocoltest"
)

var (
	eventSchemaOnce sync.Once
	eventSchema     func(v any) error
	eventSchemaErr  error
)

// validEvent validates an event (decoded into an any) against the
// protocol's task_event.schema.json, compiled with formats asserted (draft
// 2020-12). A clone without the reference fixtures beside it validates
// against the contract's own TaskEvent schema instead; CI has them.
func validEvent(t *testing.T, v any) error {
	t.Helper()
	eventSchemaOnce.Do(func() {
		if dir, ok := protocoltest.Lookup(); ok {
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			s, err := c.Compile(filepath.Join(dir, "schemas", "task_event.schema.json"))
			eventSchema, eventSchemaErr = func(v any) error { return s.Validate(v) }, err
			return
		}
		spec, err := gen.GetSwagger()
		if err != nil {
			eventSchemaErr = err
			return
		}
		ours := spec.Components.Schemas["TaskEvent"].Value
		eventSchema = func(v any) error { return ours.VisitJSON(v, openapi3.EnableFormatValidation()) }
	})
	if _, ok := protocoltest.Lookup(); !ok && os.Getenv("CI") != "" {
		protocoltest.Missing(t)
	}
	require.NoError(t, eventSchemaErr)
	return eventSchema(v)
}

// host is an example host started by a test on a free port.
type host struct {
	base string
}

// startHost runs the example host in this process with extra flags; it is
// shut down (and must exit 0) when the test ends.
func startHost(t *testing.T, flags ...string) *host {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	exited := make(chan int, 1)
	args := append([]string{"-addr", "127.0.0.1:0", "-drain", "5s", "-log-level", "error"}, flags...)
	logs := &syncBuffer{}
	go func() { exited <- run(ctx, args, io.Discard, logs, ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			http.DefaultClient.CloseIdleConnections()
			cancel()
			require.Equal(t, 0, <-exited, "host exit status; logs:\n%s", logs)
		})
		return &host{base: "http://" + addr}
	case code := <-exited:
		cancel()
		t.Fatalf("host exited with %d before listening:\n%s", code, logs)
	}
	return nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// client is the generated client acting as subject.
func (h *host) client(t *testing.T, subject string) *gen.ClientWithResponses {
	t.Helper()
	c, err := gen.NewClientWithResponses(h.base, gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		if subject != "" {
			r.Header.Set("Authorization", "Bearer "+subject)
		}
		return nil
	}))
	require.NoError(t, err)
	return c
}

// response is a raw answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a raw request as subject ("" sends no credentials).
func (h *host) do(t *testing.T, method, path, subject, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.base+path, body)
	require.NoError(t, err)
	if subject != "" {
		req.Header.Set("Authorization", "Bearer "+subject)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// doJSON sends v as a JSON body.
func (h *host) doJSON(t *testing.T, method, path, subject string, v any) response {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return h.do(t, method, path, subject, "application/json", bytes.NewReader(b))
}

// requireEnvelope checks an error answer: its status, its code and the
// envelope's shape (code, message, details object, timestamp), and returns
// its details.
func requireEnvelope(t *testing.T, r response, status int, code gen.ErrorCode) map[string]any {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", strings.Split(r.header.Get("Content-Type"), ";")[0])
	var env map[string]any
	require.NoError(t, json.Unmarshal(r.body, &env), "body: %s", r.body)
	require.Equal(t, string(code), env["code"], "body: %s", r.body)
	require.NotEmpty(t, env["message"])
	details, ok := env["details"].(map[string]any)
	require.True(t, ok, "details is an object: %s", r.body)
	ts, ok := env["timestamp"].(string)
	require.True(t, ok)
	_, err := time.Parse(time.RFC3339Nano, ts)
	require.NoError(t, err)
	require.Len(t, env, 4, "the envelope has exactly code, message, details and timestamp: %s", r.body)
	return details
}

// wireEvent is an event as it came over the wire.
type wireEvent struct {
	Type      string          `json:"type"`
	TaskID    string          `json:"taskId"`
	EventID   string          `json:"eventId"`
	CreatedAt string          `json:"createdAt"`
	Payload   json.RawMessage `json:"payload"`
}

// pollPage is a decoded poll answer, keeping each event's raw JSON.
type pollPage struct {
	TaskID           string            `json:"taskId"`
	Events           []json.RawMessage `json:"events"`
	NextAfterEventID *string           `json:"nextAfterEventId"`
	HasMore          bool              `json:"hasMore"`
}

// poll asks for the events after the cursor with raw HTTP.
func (h *host) poll(t *testing.T, subject, taskID, query string) pollPage {
	t.Helper()
	r := h.do(t, http.MethodGet, "/api/v1/tasks/"+taskID+"/events?"+query, subject, "", nil)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var p pollPage
	require.NoError(t, json.Unmarshal(r.body, &p))
	return p
}

// each long-polls the task from the start and calls fn with every event,
// checked against the reference schema, the task id and the strictly
// increasing eventIds, until fn returns false.
func (h *host) each(t *testing.T, subject, taskID string, fn func(wireEvent) bool) {
	t.Helper()
	cursor, last := "", 0
	for {
		q := "waitTimeoutMs=5000"
		if cursor != "" {
			q += "&afterEventId=" + cursor
		}
		page := h.poll(t, subject, taskID, q)
		for _, raw := range page.Events {
			e := checkEvent(t, taskID, raw)
			n := eventNumber(t, e.EventID)
			require.Greater(t, n, last, "eventIds strictly increase")
			last = n
			if !fn(e) {
				return
			}
		}
		if page.NextAfterEventID != nil {
			cursor = *page.NextAfterEventID
		}
	}
}

// follow returns every event of the task up to its terminal one.
func (h *host) follow(t *testing.T, subject, taskID string) []wireEvent {
	t.Helper()
	var all []wireEvent
	h.each(t, subject, taskID, func(e wireEvent) bool {
		all = append(all, e)
		return !terminal(e.Type)
	})
	return all
}

// checkEvent validates one event against the reference schema and decodes it.
func checkEvent(t *testing.T, taskID string, raw json.RawMessage) wireEvent {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	require.NoError(t, validEvent(t, v), "event %s", raw)
	var e wireEvent
	require.NoError(t, json.Unmarshal(raw, &e))
	require.Equal(t, taskID, e.TaskID)
	return e
}

func eventNumber(t *testing.T, id string) int {
	t.Helper()
	var n int
	_, err := fmt.Sscan(id, &n)
	require.NoError(t, err)
	return n
}

func terminal(eventType string) bool {
	return eventType == "TASK_COMPLETED" || eventType == "TASK_FAILED" || eventType == "TASK_CANCELLED"
}

func types(events []wireEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// createScripted creates a scripted task and returns its id.
func (h *host) createScripted(t *testing.T, subject, requestID string, steps ...any) string {
	t.Helper()
	if steps == nil {
		steps = []any{}
	}
	r := h.doJSON(t, http.MethodPost, "/api/v1/tasks", subject, map[string]any{
		"clientRequestId": requestID, "taskType": "scripted", "input": map[string]any{"steps": steps},
	})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var c gen.CreateTaskResponse
	require.NoError(t, json.Unmarshal(r.body, &c))
	return c.TaskId
}

// waitFor long-polls until an event of the type arrives and returns it.
func (h *host) waitFor(t *testing.T, subject, taskID, eventType string) wireEvent {
	t.Helper()
	var found wireEvent
	h.each(t, subject, taskID, func(e wireEvent) bool {
		if e.Type == eventType {
			found = e
			return false
		}
		require.False(t, terminal(e.Type), "the task ended with %s before %s", e.Type, eventType)
		return true
	})
	return found
}

// requireDense requires the ids of what's events to be 1, 2, 3, ... in
// order.
func requireDense(t *testing.T, what string, events []wireEvent) {
	t.Helper()
	for i, e := range events {
		require.Equal(t, fmt.Sprint(i+1), e.EventID, "%s: eventIds are dense from 1", what)
	}
}

func step(kind string, v any) map[string]any { return map[string]any{kind: v} }

// lastEventID is the task's newest eventId as its snapshot tells it, 0
// before its first event.
func (h *host) lastEventID(t *testing.T, subject, taskID string) int {
	t.Helper()
	snap, err := h.client(t, subject).GetTaskWithResponse(t.Context(), taskID)
	require.NoError(t, err)
	require.NotNil(t, snap.JSON200, "status %d", snap.StatusCode())
	if snap.JSON200.LastEventId == nil {
		return 0
	}
	return eventNumber(t, *snap.JSON200.LastEventId)
}
