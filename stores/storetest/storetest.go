package storetest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

// Factory returns a fresh store for one test, isolated from every other
// store it returned: the sweeps (ExpireSuspensions, PendingHandOffs,
// PruneReceipts, DeleteEndedBefore) see the whole store, and the suite counts
// what they do. A factory that shares one backend between stores isolates
// them with a unique key prefix, schema or database per call. It releases
// what it took with t.Cleanup and fails t (or skips it) when it cannot make
// a store. It is called from parallel tests, so it must be safe for
// concurrent use.
type Factory func(t *testing.T) taskbridge.Store

// Features lists what a backend cannot do; the suite skips the cases that
// need it. The zero value claims everything, and every store of this module
// passes the whole suite with it. It has no flags yet: it exists so that a
// later flag does not change Run's signature.
type Features struct{}

// guard bounds every wait of the suite. It only turns a hang into a failure;
// nothing is asserted about how long anything takes.
const guard = 30 * time.Second

// testCase is one subtest of the suite.
type testCase struct {
	name string
	run  func(t *testing.T, e *env)
	// alone marks a race case: it runs before the parallel cases, by itself,
	// so that its goroutines get every CPU and their calls overlap.
	alone bool
}

// Run runs the conformance suite against the stores newStore makes: one
// subtest per case, each with its own store. The cases that race many
// goroutines against one task run first, one at a time; all others run in
// parallel.
func Run(t *testing.T, newStore Factory, f Features) {
	t.Helper()
	var cases []testCase
	for _, group := range [][]testCase{
		createCases, eventCases, statusCases, keptCases, cancelCases, suspensionCases,
		actionCases, expiryCases, receiptCases, retentionCases, watchCases, leaseCases,
	} {
		cases = append(cases, group...)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.alone {
				t.Parallel()
			}
			c.run(t, newEnv(t, newStore, f))
		})
	}
}

// env is what a case works with: its store and helpers that make unique
// ids, so that cases stay apart even on one shared backend.
type env struct {
	t      *testing.T
	s      taskbridge.Store
	f      Features
	ctx    context.Context
	prefix string
	seq    atomic.Int64
	// base is the case's start, in UTC and whole milliseconds, so that every
	// backend keeps the times the suite hands it exactly.
	base time.Time
}

func newEnv(t *testing.T, newStore Factory, f Features) *env {
	s := newStore(t)
	require.NotNil(t, s, "the factory returned no store")
	return &env{
		t:      t,
		s:      s,
		f:      f,
		ctx:    t.Context(),
		prefix: "st-" + strings.ToLower(rand.Text()[:10]),
		base:   time.Now().UTC().Truncate(time.Millisecond),
	}
}

// id returns a new id, unique in the suite run, naming what it is for.
func (e *env) id(kind string) string {
	return fmt.Sprintf("%s-%s-%d", e.prefix, kind, e.seq.Add(1))
}

// owner returns the owner the case's tasks belong to by default.
func (e *env) owner() string { return e.prefix + "-owner" }

// newTaskSpec returns a NewTask with fresh ids, ready to create.
func (e *env) newTaskSpec() taskbridge.NewTask {
	crid := e.id("req")
	return taskbridge.NewTask{
		ID:              e.id("task"),
		Owner:           e.owner(),
		ClientRequestID: crid,
		Type:            "job",
		Input:           json.RawMessage(`{"n":1}`),
		Metadata:        json.RawMessage(`{"source":"storetest"}`),
		Fingerprint:     "fp-" + crid,
		CreatedAt:       e.base,
	}
}

// create creates a task from spec and requires it to be new.
func (e *env) create(spec taskbridge.NewTask) taskbridge.Task {
	e.t.Helper()
	task, created, err := e.s.CreateTask(e.ctx, spec)
	require.NoError(e.t, err)
	require.True(e.t, created, "a new key must create a task")
	return task
}

// newTask creates an ACCEPTED task with fresh ids and returns its id.
func (e *env) newTask() string {
	e.t.Helper()
	return e.create(e.newTaskSpec()).ID
}

// runningTask creates a task and starts it (event 1); it returns the id.
func (e *env) runningTask() string {
	e.t.Helper()
	id := e.newTask()
	e.start(id)
	return id
}

// get returns the task and requires it to exist.
func (e *env) get(taskID string) taskbridge.Task {
	e.t.Helper()
	task, err := e.s.GetTask(e.ctx, taskID)
	require.NoError(e.t, err)
	return task
}

// events returns the whole history of the task.
func (e *env) events(taskID string) []taskbridge.Event {
	e.t.Helper()
	events, err := e.s.ReadAfter(e.ctx, taskID, 0, 100_000, 0)
	require.NoError(e.t, err)
	return events
}

// payloadOf returns a valid payload for an event type.
func payloadOf(t taskbridge.EventType, note string) json.RawMessage {
	switch t {
	case taskbridge.EventStarted:
		return json.RawMessage(fmt.Sprintf(`{"message":%q}`, note))
	case taskbridge.EventProgress:
		return json.RawMessage(fmt.Sprintf(`{"progress":50,"stage":%q}`, note))
	case taskbridge.EventCompleted:
		return json.RawMessage(fmt.Sprintf(`{"result":{"note":%q}}`, note))
	case taskbridge.EventFailed:
		return json.RawMessage(fmt.Sprintf(`{"code":"BROKEN","message":%q,"retryable":false}`, note))
	case taskbridge.EventCancelled:
		return json.RawMessage(fmt.Sprintf(`{"reason":%q}`, note))
	}
	return json.RawMessage(fmt.Sprintf(`{"message":%q,"level":"info"}`, note))
}

// statusOf is the status an event of type t moves its task to ("" keeps it).
func statusOf(t taskbridge.EventType) taskbridge.TaskStatus {
	if t == taskbridge.EventStarted {
		return taskbridge.StatusRunning
	}
	return t.EndStatus()
}

// appendOf is the Append an executor would make for an event of type t.
func appendOf(t taskbridge.EventType, note string) taskbridge.Append {
	return taskbridge.Append{Type: t, Payload: payloadOf(t, note), Status: statusOf(t)}
}

// add appends an event of type t with its usual status move and requires
// it to succeed.
func (e *env) add(taskID string, t taskbridge.EventType) taskbridge.Event {
	e.t.Helper()
	ev, err := e.s.Append(e.ctx, taskID, appendOf(t, e.id("note")))
	require.NoError(e.t, err, "append %s", t)
	return ev
}

func (e *env) start(taskID string) taskbridge.Event {
	e.t.Helper()
	return e.add(taskID, taskbridge.EventStarted)
}

func (e *env) message(taskID string) taskbridge.Event {
	e.t.Helper()
	return e.add(taskID, taskbridge.EventMessage)
}

// allowed are the action types of the suite's suspensions.
var allowed = []string{"approve", "reject"}

// suspension returns an open suspension as an executor would report it.
func (e *env) suspension(taskID string, expiresAt time.Time) taskbridge.Suspension {
	sid := e.id("susp")
	payload := fmt.Sprintf(`{"suspendId":%q,"kind":"USER_ACTION_REQUIRED","reasonCode":"NEEDS_APPROVAL","allowedActions":["approve","reject"],"schemaVersion":1}`, sid)
	return taskbridge.Suspension{
		TaskID:         taskID,
		SuspendID:      sid,
		AllowedActions: append([]string(nil), allowed...),
		ExpiresAt:      expiresAt,
		Payload:        json.RawMessage(payload),
		CreatedAt:      e.base,
		State:          taskbridge.SuspensionOpen,
	}
}

// suspendWith appends TASK_SUSPENDED opening s.
func (e *env) suspendWith(s taskbridge.Suspension) (taskbridge.Event, error) {
	return e.s.Append(e.ctx, s.TaskID, taskbridge.Append{Type: taskbridge.EventSuspended, Payload: s.Payload, Suspension: &s})
}

// suspend opens a suspension on a running task and returns its id.
func (e *env) suspend(taskID string, expiresAt time.Time) string {
	e.t.Helper()
	s := e.suspension(taskID, expiresAt)
	_, err := e.suspendWith(s)
	require.NoError(e.t, err)
	return s.SuspendID
}

// suspendedTask creates a running task with an open suspension.
func (e *env) suspendedTask(expiresAt time.Time) (taskID, suspendID string) {
	e.t.Helper()
	taskID = e.runningTask()
	return taskID, e.suspend(taskID, expiresAt)
}

// action returns an action request answering the suspension.
func (e *env) action(taskID, suspendID, clientActionID, actionType, payload string, now time.Time) taskbridge.ActionRequest {
	accepted := fmt.Sprintf(`{"suspendId":%q,"clientActionId":%q,"actionType":%q,"acceptedAt":%q}`,
		suspendID, clientActionID, actionType, now.Format(time.RFC3339Nano))
	return taskbridge.ActionRequest{
		TaskID:         taskID,
		ClientActionID: clientActionID,
		SuspendID:      suspendID,
		ActionType:     actionType,
		Payload:        json.RawMessage(payload),
		Metadata:       json.RawMessage(`{"device":"storetest"}`),
		Fingerprint:    suspendID + "\x00" + actionType + "\x00" + payload,
		Now:            now,
		AcceptedEvent:  json.RawMessage(accepted),
	}
}

// approve returns an "approve" action with a fresh client action id.
func (e *env) approve(taskID, suspendID string, now time.Time) taskbridge.ActionRequest {
	return e.action(taskID, suspendID, e.id("act"), "approve", `{"ok":true}`, now)
}

// record records the action and requires the given outcome status.
func (e *env) record(a taskbridge.ActionRequest, want taskbridge.ActionStatus) taskbridge.ActionOutcome {
	e.t.Helper()
	out, err := e.s.RecordAction(e.ctx, a)
	require.NoError(e.t, err)
	require.Equal(e.t, want, out.Status)
	return out
}

// accept records the action and requires it to be accepted.
func (e *env) accept(a taskbridge.ActionRequest) taskbridge.ActionOutcome {
	e.t.Helper()
	out := e.record(a, taskbridge.ActionAccepted)
	require.NotNil(e.t, out.Receipt)
	require.NotNil(e.t, out.Event)
	return out
}

// suspensionOf returns the suspension and requires it to exist.
func (e *env) suspensionOf(taskID, suspendID string) taskbridge.Suspension {
	e.t.Helper()
	s, err := e.s.GetSuspension(e.ctx, taskID, suspendID)
	require.NoError(e.t, err)
	return s
}

// pending returns the pending hand-offs as "taskID/suspendID" strings.
func (e *env) pending() []string {
	e.t.Helper()
	ss, err := e.s.PendingHandOffs(e.ctx, 1000)
	require.NoError(e.t, err)
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.TaskID + "/" + s.SuspendID
	}
	return out
}

// requireUnchanged requires the task to still have lastEventID as its head,
// in its record and in its history.
func (e *env) requireUnchanged(taskID string, lastEventID uint64) {
	e.t.Helper()
	require.Equal(e.t, lastEventID, e.get(taskID).LastEventID, "nothing may be appended")
	require.Len(e.t, e.events(taskID), int(lastEventID), "nothing may be appended")
}

// requireTime requires got to be the same instant as want.
func requireTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.Truef(t, want.Equal(got), "%s: want %s, got %s", what, want, got)
}

// requireStamped requires a store-stamped time: set and in UTC.
func requireStamped(t *testing.T, at time.Time, what string) {
	t.Helper()
	require.Falsef(t, at.IsZero(), "%s must be stamped", what)
	require.Equalf(t, time.UTC, at.Location(), "%s must be in UTC", what)
}

// waitFor re-checks cond each time wake fires, until it holds; guard only
// bounds a hang.
func waitFor(t *testing.T, wake <-chan struct{}, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	timeout := time.NewTimer(guard)
	defer timeout.Stop()
	for !cond() {
		select {
		case <-wake:
		case <-timeout.C:
			require.Fail(t, "gave up waiting", msgAndArgs...)
		}
	}
}

// parallel runs fn(i) for i in [0, n) on n goroutines and waits for all of
// them. Until they are released, all of them are running, yielding in a
// loop, and the caller runs one of them itself right at the release, so
// that even on two CPUs the first calls overlap.
func parallel(n int, fn func(i int)) {
	var ready atomic.Int32
	var release atomic.Bool
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			ready.Add(1)
			for !release.Load() {
				runtime.Gosched()
			}
			fn(i)
		})
	}
	for ready.Load() < int32(n-1) {
		runtime.Gosched()
	}
	release.Store(true)
	fn(0)
	wg.Wait()
}
