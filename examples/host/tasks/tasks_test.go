package tasks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/adapters/local"
	"github.com/taskbridge-go/taskbridge/bridge"
	"github.com/taskbridge-go/taskbridge/examples/host/tasktypes"
)

// call is one recorded Reporter call, with the (bubble) time it was made.
type call struct {
	Method   string
	At       time.Time
	Progress taskbridge.Progress
	Message  taskbridge.Message
	Suspend  taskbridge.SuspendRequest
	Result   json.RawMessage
	Failure  taskbridge.Failure
}

// fakeReporter records calls per task and refuses any after a terminal one.
// Safe for concurrent use.
type fakeReporter struct {
	mu        sync.Mutex
	calls     map[string][]call
	ended     map[string]chan struct{}
	suspended map[string]chan taskbridge.SuspendRequest
}

func newFakeReporter() *fakeReporter {
	return &fakeReporter{
		calls:     make(map[string][]call),
		ended:     make(map[string]chan struct{}),
		suspended: make(map[string]chan taskbridge.SuspendRequest),
	}
}

func (f *fakeReporter) endedCh(id string) chan struct{} {
	if f.ended[id] == nil {
		f.ended[id] = make(chan struct{})
	}
	return f.ended[id]
}

func (f *fakeReporter) suspendedCh(id string) chan taskbridge.SuspendRequest {
	if f.suspended[id] == nil {
		f.suspended[id] = make(chan taskbridge.SuspendRequest, 16)
	}
	return f.suspended[id]
}

func (f *fakeReporter) done(id string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endedCh(id)
}

func (f *fakeReporter) suspensions(id string) <-chan taskbridge.SuspendRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.suspendedCh(id)
}

func (f *fakeReporter) record(id string, c call) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.endedCh(id)
	select {
	case <-ch:
		return fmt.Errorf("fake: %s after the end: %w", c.Method, taskbridge.ErrTaskEnded)
	default:
	}
	c.At = time.Now()
	f.calls[id] = append(f.calls[id], c)
	switch c.Method {
	case "Complete", "Fail", "Cancelled":
		close(ch)
	case "Suspend":
		f.suspendedCh(id) <- c.Suspend
	}
	return nil
}

func (f *fakeReporter) get(id string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls[id]...)
}

func (f *fakeReporter) methods(id string) []string {
	var m []string
	for _, c := range f.get(id) {
		m = append(m, c.Method)
	}
	return m
}

func (f *fakeReporter) Start(_ context.Context, id, _ string) error {
	return f.record(id, call{Method: "Start"})
}

func (f *fakeReporter) Progress(_ context.Context, id string, p taskbridge.Progress) error {
	return f.record(id, call{Method: "Progress", Progress: p})
}

func (f *fakeReporter) Message(_ context.Context, id string, m taskbridge.Message) error {
	return f.record(id, call{Method: "Message", Message: m})
}

func (f *fakeReporter) Suspend(_ context.Context, id string, s taskbridge.SuspendRequest) (taskbridge.Suspension, error) {
	if err := f.record(id, call{Method: "Suspend", Suspend: s}); err != nil {
		return taskbridge.Suspension{}, err
	}
	return taskbridge.Suspension{TaskID: id, SuspendID: s.SuspendID, AllowedActions: s.AllowedActions, ExpiresAt: s.ExpiresAt}, nil
}

func (f *fakeReporter) Complete(_ context.Context, id string, result json.RawMessage) error {
	return f.record(id, call{Method: "Complete", Result: result})
}

func (f *fakeReporter) Fail(_ context.Context, id string, fl taskbridge.Failure) error {
	return f.record(id, call{Method: "Fail", Failure: fl})
}

func (f *fakeReporter) Cancelled(_ context.Context, id string) error {
	return f.record(id, call{Method: "Cancelled"})
}

// harness is a local executor with every task type over a fake reporter.
type harness struct {
	*local.Executor
	rep *fakeReporter
}

// newHarness must be called inside the synctest bubble of the test (or
// outside any); the executor is shut down when the test ends.
func newHarness(t *testing.T) *harness {
	rep := newFakeReporter()
	var types []local.TaskType
	for _, typ := range tasktypes.TaskTypes(Host{}).Types {
		types = append(types, local.TaskType{Name: typ.Name, Run: func(ctx context.Context, r *local.Run) (json.RawMessage, error) {
			return typ.Run(ctx, r)
		}})
	}
	e := local.New(local.Config{Reporter: rep}, types...)
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return &harness{Executor: e, rep: rep}
}

// submit submits a task with that input (which the contract allows; the
// Check tests below prove that through the bridge).
func (h *harness) submit(t *testing.T, id, typ, input string) {
	t.Helper()
	require.NoError(t, h.Submit(t.Context(), taskbridge.Task{NewTask: taskbridge.NewTask{ID: id, Type: typ, Input: json.RawMessage(input)}}))
}

func script(steps ...string) string {
	return `{"steps":[` + strings.Join(steps, ",") + `]}`
}

func accept(taskID, suspendID, actionType string) taskbridge.Resume {
	return taskbridge.Resume{TaskID: taskID, SuspendID: suspendID, Action: &taskbridge.ActionReceipt{
		ActionRequest: taskbridge.ActionRequest{TaskID: taskID, SuspendID: suspendID, ClientActionID: "c1", ActionType: actionType},
	}}
}

func TestTaskTypes(t *testing.T) {
	t.Parallel()
	var names []string
	for _, typ := range tasktypes.TaskTypes(Host{}).Types {
		names = append(names, typ.Name)
		require.Equal(t, typ.Name == "scripted", typ.Check != nil, "%s: only scripted has a check of its own", typ.Name)
	}
	require.ElementsMatch(t, []string{"scripted", "echo"}, names)
}

func TestEcho(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		for id, input := range map[string]string{"obj": `{"b":[1,2],"a":"x"}`, "null": `null`, "none": ``} {
			h.submit(t, id, "echo", input)
			<-h.rep.done(id)
			require.Equal(t, []string{"Start", "Complete"}, h.rep.methods(id), id)
			want := input
			if want == "" {
				want = "null"
			}
			require.JSONEq(t, want, string(h.rep.get(id)[1].Result), id)
		}
	})
}

func TestScriptedEveryStep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		start := time.Now()
		h.submit(t, "t1", "scripted", script(
			`{"sleepMs": 1500}`,
			`{"progress": {"progress": 12.5, "stage": "warm", "message": "going"}}`,
			`{"message": {"message": "hello", "level": "warning"}}`,
			`{"message": {"message": "plain"}}`,
			`{"ticks": {"count": 3, "intervalMs": 0.5, "payloadBytes": 12}}`,
			`{"suspend": {"kind": "EXTERNAL_CONFIRMATION_PENDING", "reasonCode": "CONFIRM", "allowedActions": ["yes", "no"],
				"interaction": {"question": "ok?"}, "uiHints": {"color": "red"}, "expiresInMs": 60000}}`,
			`{"progress": {"progress": 100}}`,
			`{"complete": {"result": {"x": [1, 2.5, "three"], "big": 12345678901234567890}}}`,
		))
		s := <-h.rep.suspensions("t1")
		synctest.Wait()
		require.Equal(t, []string{"Start", "Progress", "Message", "Message", "Message", "Message", "Message", "Suspend"}, h.rep.methods("t1"))
		require.NoError(t, h.Resume(t.Context(), accept("t1", s.SuspendID, "yes")))
		<-h.rep.done("t1")

		calls := h.rep.get("t1")
		require.Equal(t, []string{"Start", "Progress", "Message", "Message", "Message", "Message", "Message", "Suspend", "Progress", "Complete"}, h.rep.methods("t1"))
		require.Equal(t, start, calls[0].At)
		require.Equal(t, 1500*time.Millisecond, calls[1].At.Sub(start), "the sleep")
		require.Equal(t, taskbridge.Progress{Percent: 12.5, Stage: "warm", Message: "going"}, calls[1].Progress)
		require.Equal(t, taskbridge.Message{Text: "hello", Level: "warning"}, calls[2].Message)
		require.Equal(t, taskbridge.Message{Text: "plain"}, calls[3].Message)
		for i, c := range calls[4:7] {
			require.Equal(t, pad(fmt.Sprintf("tick %d/3", i+1), 12), c.Message.Text)
			require.Len(t, c.Message.Text, 12)
			require.Equal(t, time.Duration(i)*500*time.Microsecond, c.At.Sub(calls[4].At), "ticks are paced")
		}
		susp := calls[7].Suspend
		require.NotEmpty(t, susp.SuspendID)
		require.Equal(t, "EXTERNAL_CONFIRMATION_PENDING", susp.Kind)
		require.Equal(t, "CONFIRM", susp.ReasonCode)
		require.Equal(t, []string{"yes", "no"}, susp.AllowedActions)
		require.JSONEq(t, `{"question":"ok?"}`, string(susp.Interaction))
		require.JSONEq(t, `{"color":"red"}`, string(susp.UIHints))
		require.Equal(t, calls[7].At.Add(time.Minute), susp.ExpiresAt)
		require.Equal(t, taskbridge.Progress{Percent: 100}, calls[8].Progress)
		require.JSONEq(t, `{"x":[1,2.5,"three"],"big":12345678901234567890}`, string(calls[9].Result))
		require.Contains(t, string(calls[9].Result), "12345678901234567890", "numbers are kept exactly")
	})
}

func TestScriptedEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, input string
		want        call
	}{
		{"no steps", script(), call{Method: "Complete", Result: json.RawMessage("null")}},
		{"no terminal step", script(`{"message":{"message":"m"}}`), call{Method: "Complete", Result: json.RawMessage("null")}},
		{"complete without result", script(`{"complete":{}}`), call{Method: "Complete", Result: json.RawMessage("null")}},
		{"complete with null", script(`{"complete":{"result":null}}`), call{Method: "Complete", Result: json.RawMessage("null")}},
		{"fail", script(`{"fail":{"code":"E1","message":"bad","retryable":true}}`), call{Method: "Fail", Failure: taskbridge.Failure{Code: "E1", Message: "bad", Retryable: true}}},
		{"fail not retryable", script(`{"fail":{"code":"E2","message":""}}`), call{Method: "Fail", Failure: taskbridge.Failure{Code: "E2"}}},
		{"suspend with defaults", script(`{"suspend":{"reasonCode":"R","allowedActions":["a"]}}`), call{Method: "Complete", Result: json.RawMessage("null")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				h.submit(t, "t1", "scripted", c.input)
				select {
				case s := <-h.rep.suspensions("t1"):
					require.Equal(t, "USER_ACTION_REQUIRED", s.Kind)
					require.True(t, s.ExpiresAt.IsZero())
					require.Nil(t, s.Interaction)
					require.NoError(t, h.Resume(t.Context(), accept("t1", s.SuspendID, "a")))
				case <-h.rep.done("t1"):
				}
				<-h.rep.done("t1")
				calls := h.rep.get("t1")
				require.Equal(t, "Start", calls[0].Method)
				last := calls[len(calls)-1]
				last.At = time.Time{}
				if c.want.Result != nil {
					require.JSONEq(t, string(c.want.Result), string(last.Result))
					last.Result, c.want.Result = nil, nil
				}
				require.Equal(t, c.want, last)
			})
		})
	}
}

func TestScriptedSuspensionExpires(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.submit(t, "t1", "scripted", script(`{"suspend":{"reasonCode":"R","allowedActions":["a"],"expiresInMs":10}}`, `{"message":{"message":"never"}}`))
		s := <-h.rep.suspensions("t1")
		require.NoError(t, h.Resume(t.Context(), taskbridge.Resume{TaskID: "t1", SuspendID: s.SuspendID}))
		<-h.rep.done("t1")
		require.Equal(t, []string{"Start", "Suspend", "Fail"}, h.rep.methods("t1"))
		f := h.rep.get("t1")[2].Failure
		require.Equal(t, CodeSuspensionExpired, f.Code)
		require.False(t, f.Retryable)
	})
}

func TestScriptedCancel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, input string
		before      []string // calls made when the task waits
	}{
		{"during sleep", script(`{"sleepMs": 3600000}`, `{"message":{"message":"never"}}`), []string{"Start"}},
		{"during ticks", script(`{"ticks": {"count": 1000, "intervalMs": 60000}}`), []string{"Start", "Message"}},
		{"during suspension", script(`{"suspend":{"reasonCode":"R","allowedActions":["a"]}}`, `{"message":{"message":"never"}}`), []string{"Start", "Suspend"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				start := time.Now()
				h.submit(t, "t1", "scripted", c.input)
				synctest.Wait()
				require.Equal(t, c.before, h.rep.methods("t1"))
				require.NoError(t, h.Cancel(t.Context(), "t1"))
				<-h.rep.done("t1")
				require.Equal(t, append(c.before, "Cancelled"), h.rep.methods("t1"))
				require.Equal(t, start, time.Now(), "the wait stopped at once")
			})
		})
	}
}

func TestScriptedTicks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		payloadBytes int
		want         []string
	}{
		{0, []string{"tick 1/2", "tick 2/2"}},
		{3, []string{"tic", "tic"}},
		{8, []string{"tick 1/2", "tick 2/2"}},
		{9, []string{"tick 1/2.", "tick 2/2."}},
		{1000, []string{"tick 1/2" + strings.Repeat(".", 992), "tick 2/2" + strings.Repeat(".", 992)}},
		{1 << 20, []string{"tick 1/2" + strings.Repeat(".", 1<<20-8), "tick 2/2" + strings.Repeat(".", 1<<20-8)}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.payloadBytes), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				start := time.Now()
				h.submit(t, "t1", "scripted", script(fmt.Sprintf(`{"ticks":{"count":2,"payloadBytes":%d}}`, c.payloadBytes)))
				<-h.rep.done("t1")
				var got []string
				for _, call := range h.rep.get("t1") {
					if call.Method == "Message" {
						got = append(got, call.Message.Text)
						if c.payloadBytes > 0 {
							require.Len(t, call.Message.Text, c.payloadBytes)
						}
						require.Equal(t, start, call.At, "intervalMs 0 is back to back")
					}
				}
				require.Equal(t, c.want, got)
			})
		})
	}
	t.Run("zero count", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t)
			h.submit(t, "t1", "scripted", script(`{"ticks":{"count":0,"intervalMs":5}}`))
			<-h.rep.done("t1")
			require.Equal(t, []string{"Start", "Complete"}, h.rep.methods("t1"))
		})
	})
}

// A task that was never checked against the contract still refuses a bad
// script when it runs.
func TestScriptedRunChecksItsInput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		require.NoError(t, h.Submit(t.Context(), taskbridge.Task{NewTask: taskbridge.NewTask{ID: "t1", Type: "scripted", Input: json.RawMessage(`{"steps":1}`)}}))
		<-h.rep.done("t1")
		require.Equal(t, []string{"Start", "Fail"}, h.rep.methods("t1"))
		require.Equal(t, bridge.CodeInvalidInput, h.rep.get("t1")[1].Failure.Code)
	})
}

// creator creates scripted tasks through a bridge over the contract, as a
// client does, to see what the contract and CheckScripted refuse.
type creator struct {
	e *echo.Echo
}

func newCreator(t testing.TB) *creator {
	t.Helper()
	b, err := bridge.New(bridge.Config{
		TaskTypes: tasktypes.TaskTypes(Host{}),
		Auth: bridge.BearerAuth(func(context.Context, string) (taskbridge.Principal, error) {
			return taskbridge.Principal{Subject: "t"}, nil
		}),
		// The tasks never run: only creates are judged here.
		Executor: func(taskbridge.Reporter) (taskbridge.TaskExecutor, error) { return idleExecutor{}, nil },
	})
	require.NoError(t, err)
	e := echo.New()
	b.Mount(e)
	return &creator{e: e}
}

// create sends a create of a scripted task with that input (raw JSON, none
// when empty) through the bridge's handler and returns the status and the
// field the error names.
func (c *creator) create(t testing.TB, input string) (int, string) {
	t.Helper()
	body := `{"clientRequestId":"` + rand.Text() + `","taskType":"scripted"`
	if input != "" {
		body += `,"input":` + input
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/tasks", strings.NewReader(body+"}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer t")
	rec := httptest.NewRecorder()
	c.e.ServeHTTP(rec, req)
	var envelope struct{ Details struct{ Field string } }
	_ = json.Unmarshal(rec.Body.Bytes(), &envelope)
	return rec.Code, envelope.Details.Field
}

// idleExecutor takes every task and runs none.
type idleExecutor struct{}

func (idleExecutor) Submit(context.Context, taskbridge.Task) error   { return nil }
func (idleExecutor) Cancel(context.Context, string) error            { return nil }
func (idleExecutor) Resume(context.Context, taskbridge.Resume) error { return nil }

func TestScriptedCheck(t *testing.T) {
	t.Parallel()
	c := newCreator(t)
	cases := []struct {
		name, input, field string
	}{
		{"no input", ``, "/input/steps"},
		{"null input", `null`, "/input"},
		{"input not an object", `[1]`, "/input"},
		{"unknown top-level key", `{"steps":[],"label":"x"}`, "/input/label"},
		{"missing steps", `{}`, "/input/steps"},
		{"steps not an array", `{"steps":{}}`, "/input/steps"},
		{"steps null", `{"steps":null}`, "/input/steps"},
		{"step not an object", script(`{"sleepMs":1}`, `"sleep"`), "/input/steps/1"},
		{"step with no key", script(`{}`), "/input/steps/0"},
		{"step with two keys", script(`{"sleepMs":1,"message":{"message":"m"}}`), "/input/steps/0"},
		{"unknown step kind", script(`{"dance":1}`), "/input/steps/0/dance"},
		{"step after complete", script(`{"complete":{"result":1}}`, `{"sleepMs":1}`), "/input/steps/1"},
		{"step after fail", script(`{"fail":{"code":"C","message":"m"}}`, `{"complete":{}}`), "/input/steps/1"},

		{"sleepMs not a number", script(`{"sleepMs":"1"}`), "/input/steps/0/sleepMs"},
		{"sleepMs negative", script(`{"sleepMs":-1}`), "/input/steps/0/sleepMs"},
		{"sleepMs too long", script(`{"sleepMs":1e12}`), "/input/steps/0/sleepMs"},

		{"progress not an object", script(`{"progress":50}`), "/input/steps/0/progress"},
		{"progress missing", script(`{"progress":{"stage":"s"}}`), "/input/steps/0/progress/progress"},
		{"progress 150", script(`{"progress":{"progress":150}}`), "/input/steps/0/progress/progress"},
		{"progress negative", script(`{"progress":{"progress":-0.5}}`), "/input/steps/0/progress/progress"},
		{"progress a string", script(`{"progress":{"progress":"50"}}`), "/input/steps/0/progress/progress"},
		{"progress stage not a string", script(`{"progress":{"progress":5,"stage":5}}`), "/input/steps/0/progress/stage"},
		{"progress message null", script(`{"progress":{"progress":5,"message":null}}`), "/input/steps/0/progress/message"},
		{"progress unknown key", script(`{"progress":{"progress":5,"color":"red"}}`), "/input/steps/0/progress/color"},

		{"message missing", script(`{"message":{"level":"info"}}`), "/input/steps/0/message/message"},
		{"message not a string", script(`{"message":{"message":1}}`), "/input/steps/0/message/message"},
		{"message bad level", script(`{"message":{"message":"m","level":"error"}}`), "/input/steps/0/message/level"},
		{"message empty level", script(`{"message":{"message":"m","level":""}}`), "/input/steps/0/message/level"},
		{"message unknown key", script(`{"message":{"message":"m","to":"x"}}`), "/input/steps/0/message/to"},
		{"message escaped key", script(`{"message":{"message":"m","a/b~c":1}}`), "/input/steps/0/message/a~1b~0c"},

		{"ticks without count", script(`{"ticks":{"intervalMs":1}}`), "/input/steps/0/ticks/count"},
		{"ticks fractional count", script(`{"ticks":{"count":1.5}}`), "/input/steps/0/ticks/count"},
		{"ticks negative count", script(`{"ticks":{"count":-1}}`), "/input/steps/0/ticks/count"},
		{"ticks too many", script(`{"ticks":{"count":1000001}}`), "/input/steps/0/ticks/count"},
		{"ticks negative interval", script(`{"ticks":{"count":1,"intervalMs":-1}}`), "/input/steps/0/ticks/intervalMs"},
		{"ticks interval a string", script(`{"ticks":{"count":1,"intervalMs":"1"}}`), "/input/steps/0/ticks/intervalMs"},
		{"ticks fractional payload", script(`{"ticks":{"count":1,"payloadBytes":0.5}}`), "/input/steps/0/ticks/payloadBytes"},
		{"ticks negative payload", script(`{"ticks":{"count":1,"payloadBytes":-1}}`), "/input/steps/0/ticks/payloadBytes"},
		{"ticks payload too big", script(`{"ticks":{"count":1,"payloadBytes":1048577}}`), "/input/steps/0/ticks/payloadBytes"},
		{"ticks unknown key", script(`{"ticks":{"count":1,"every":1}}`), "/input/steps/0/ticks/every"},

		{"suspend not an object", script(`{"suspend":true}`), "/input/steps/0/suspend"},
		{"suspend bad kind", script(`{"suspend":{"kind":"NAP","reasonCode":"r","allowedActions":["a"]}}`), "/input/steps/0/suspend/kind"},
		{"suspend kind not a string", script(`{"suspend":{"kind":1,"reasonCode":"r","allowedActions":["a"]}}`), "/input/steps/0/suspend/kind"},
		{"suspend without reasonCode", script(`{"suspend":{"allowedActions":["a"]}}`), "/input/steps/0/suspend/reasonCode"},
		{"suspend empty reasonCode", script(`{"suspend":{"reasonCode":"","allowedActions":["a"]}}`), "/input/steps/0/suspend/reasonCode"},
		{"suspend without allowedActions", script(`{"suspend":{"reasonCode":"r"}}`), "/input/steps/0/suspend/allowedActions"},
		{"suspend empty allowedActions", script(`{"suspend":{"reasonCode":"r","allowedActions":[]}}`), "/input/steps/0/suspend/allowedActions"},
		{"suspend allowedActions not an array", script(`{"suspend":{"reasonCode":"r","allowedActions":"a"}}`), "/input/steps/0/suspend/allowedActions"},
		{"suspend empty action", script(`{"suspend":{"reasonCode":"r","allowedActions":["a",""]}}`), "/input/steps/0/suspend/allowedActions/1"},
		{"suspend action too long", script(`{"suspend":{"reasonCode":"r","allowedActions":["` + strings.Repeat("é", 129) + `"]}}`), "/input/steps/0/suspend/allowedActions/0"},
		{"suspend action not a string", script(`{"suspend":{"reasonCode":"r","allowedActions":[1]}}`), "/input/steps/0/suspend/allowedActions/0"},
		{"suspend interaction not an object", script(`{"suspend":{"reasonCode":"r","allowedActions":["a"],"interaction":[1]}}`), "/input/steps/0/suspend/interaction"},
		{"suspend uiHints null", script(`{"suspend":{"reasonCode":"r","allowedActions":["a"],"uiHints":null}}`), "/input/steps/0/suspend/uiHints"},
		{"suspend expiresInMs zero", script(`{"suspend":{"reasonCode":"r","allowedActions":["a"],"expiresInMs":0}}`), "/input/steps/0/suspend/expiresInMs"},
		{"suspend expiresInMs negative", script(`{"suspend":{"reasonCode":"r","allowedActions":["a"],"expiresInMs":-5}}`), "/input/steps/0/suspend/expiresInMs"},
		{"suspend expiresInMs too long", script(`{"suspend":{"reasonCode":"r","allowedActions":["a"],"expiresInMs":1e15}}`), "/input/steps/0/suspend/expiresInMs"},
		{"suspend unknown key", script(`{"suspend":{"reasonCode":"r","allowedActions":["a"],"suspendId":"s"}}`), "/input/steps/0/suspend/suspendId"},

		{"complete not an object", script(`{"complete":1}`), "/input/steps/0/complete"},
		{"complete unknown key", script(`{"complete":{"result":1,"status":"ok"}}`), "/input/steps/0/complete/status"},

		{"fail without code", script(`{"fail":{"message":"m"}}`), "/input/steps/0/fail/code"},
		{"fail empty code", script(`{"fail":{"code":"","message":"m"}}`), "/input/steps/0/fail/code"},
		{"fail without message", script(`{"fail":{"code":"C"}}`), "/input/steps/0/fail/message"},
		{"fail message not a string", script(`{"fail":{"code":"C","message":false}}`), "/input/steps/0/fail/message"},
		{"fail retryable not a bool", script(`{"fail":{"code":"C","message":"m","retryable":"yes"}}`), "/input/steps/0/fail/retryable"},
		{"fail unknown key", script(`{"fail":{"code":"C","message":"m","details":{}}}`), "/input/steps/0/fail/details"},

		{"the first bad step counts", script(`{"sleepMs":1}`, `{"sleepMs":1}`, `{"progress":{"progress":101}}`, `{"dance":1}`), "/input/steps/2/progress/progress"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, field := c.create(t, tc.input)
			require.Equal(t, http.StatusUnprocessableEntity, status)
			require.Equal(t, tc.field, field)
		})
	}
	for _, input := range []string{`{"steps":`, `{"steps":[]} {}`, script(`{"sleepMs":1e999}`)} {
		status, _ := c.create(t, input)
		require.Equal(t, http.StatusBadRequest, status, "%s is not JSON", input)
	}
}

func TestScriptedCheckAccepts(t *testing.T) {
	t.Parallel()
	c := newCreator(t)
	for _, input := range []string{
		script(),
		script(`{"sleepMs":0}`, `{"sleepMs":0.25}`, `{"sleepMs":31536000000}`),
		script(`{"progress":{"progress":0}}`, `{"progress":{"progress":100,"stage":"","message":""}}`, `{"progress":{"progress":1e1}}`),
		script(`{"message":{"message":""}}`, `{"message":{"message":"m","level":"debug"}}`, `{"message":{"message":"m","level":"info"}}`),
		script(`{"ticks":{"count":0}}`, `{"ticks":{"count":1e3,"intervalMs":0.001,"payloadBytes":0}}`),
		script(`{"suspend":{"kind":"SYSTEM_PAUSED","reasonCode":"r","allowedActions":["a","a"],"interaction":{},"uiHints":{"a":{"b":[1]}},"expiresInMs":0.000001}}`),
		script(`{"complete":{"result":[{"a":null}]}}`),
		script(`{"suspend":{"reasonCode":"r","allowedActions":["` + strings.Repeat("é", 128) + `"]}}`),
		script(`{"message":{"message":"m"}}`, `{"fail":{"code":"C","message":"m","retryable":false}}`),
	} {
		status, field := c.create(t, input)
		require.Equal(t, http.StatusCreated, status, "%s: %s", input, field)
	}
}
