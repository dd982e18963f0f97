package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var createCases = []testCase{
	{name: "CreateRoundTrip", run: testCreateRoundTrip},
	{name: "CreateDeduplicates", run: testCreateDeduplicates},
	{name: "CreateIdempotencyConflict", run: testCreateIdempotencyConflict},
	{name: "CreateKeyIsPerOwner", run: testCreateKeyIsPerOwner},
	{name: "CreateConcurrentIdentical", run: testCreateConcurrentIdentical, alone: true},
	{name: "GetTaskUnknown", run: testGetTaskUnknown},
	{name: "NoAliasing", run: testNoAliasing},
}

// requireNewTask requires task to carry everything spec gave.
func requireNewTask(t *testing.T, spec taskbridge.NewTask, task taskbridge.Task) {
	t.Helper()
	require.Equal(t, spec.ID, task.ID)
	require.Equal(t, spec.Owner, task.Owner)
	require.Equal(t, spec.ClientRequestID, task.ClientRequestID)
	require.Equal(t, spec.Type, task.Type)
	require.Equal(t, spec.Fingerprint, task.Fingerprint)
	require.JSONEq(t, string(spec.Input), string(task.Input))
	require.JSONEq(t, string(spec.Metadata), string(task.Metadata))
	requireTime(t, spec.CreatedAt, task.CreatedAt, "CreatedAt")
	require.Equal(t, spec.TraceParent, task.TraceParent)
	require.Len(t, task.Attachments, len(spec.Attachments))
	for i, want := range spec.Attachments {
		got := task.Attachments[i]
		require.Equal(t, want.Field, got.Field, "attachment %d", i)
		require.Equal(t, want.Name, got.Name, "attachment %d", i)
		require.Equal(t, want.ContentType, got.ContentType, "attachment %d", i)
		require.Equal(t, want.Data, got.Data, "attachment %d bytes", i)
	}
}

func testCreateRoundTrip(t *testing.T, e *env) {
	full := e.newTaskSpec()
	full.Type = "media.transcode"
	full.Input = json.RawMessage(`{"steps":[{"sleepMs":5},{"progress":{"progress":50}}],"name":"clip \u00e9","n":1.5,"none":null}`)
	full.Metadata = json.RawMessage(`{"source":"storetest","tags":["a","b"],"nested":{"k":true}}`)
	full.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	full.Attachments = []taskbridge.Attachment{
		{Field: "attachments", Name: "raw.bin", ContentType: "application/octet-stream", Data: []byte{0x00, 0x01, 0xff, 0xfe, 0x00, '\n'}},
		{Field: "attachment", Name: "note.txt", ContentType: "text/plain", Data: []byte("hello, world")},
	}
	bare := e.newTaskSpec()
	bare.Input = json.RawMessage(`null`)
	bare.Metadata = json.RawMessage(`null`)

	for _, spec := range []taskbridge.NewTask{full, bare} {
		task, created, err := e.s.CreateTask(e.ctx, spec)
		require.NoError(t, err)
		require.True(t, created)
		for _, got := range []taskbridge.Task{task, e.get(spec.ID)} {
			requireNewTask(t, spec, got)
			require.Equal(t, taskbridge.StatusAccepted, got.Status)
			require.Zero(t, got.LastEventID)
			require.False(t, got.UpdatedAt.IsZero(), "UpdatedAt is set at creation")
			require.True(t, got.EndedAt.IsZero(), "a new task has not ended")
			require.False(t, got.CancelRequested)
			require.Empty(t, got.CancelReason)
		}
		events, err := e.s.ReadAfter(e.ctx, spec.ID, 0, 10, 0)
		require.NoError(t, err)
		require.Empty(t, events, "a new task has no history")
		_, open, err := e.s.OpenSuspensionOf(e.ctx, spec.ID)
		require.NoError(t, err)
		require.False(t, open)
	}
}

func testCreateDeduplicates(t *testing.T, e *env) {
	first := e.newTaskSpec()
	e.create(first)
	e.start(first.ID)

	again := first
	again.ID = e.id("task")
	again.Metadata = json.RawMessage(`{"source":"a retry","metadata":"does not count"}`)
	again.CreatedAt = e.base.Add(time.Second)
	task, created, err := e.s.CreateTask(e.ctx, again)
	require.NoError(t, err)
	require.False(t, created, "the same request must not create a second task")
	requireNewTask(t, first, task)
	require.Equal(t, taskbridge.StatusRunning, task.Status, "the existing task is returned as it is now")
	require.Equal(t, uint64(1), task.LastEventID)

	_, err = e.s.GetTask(e.ctx, again.ID)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound, "a deduplicated create must not store its own id")
}

func testCreateIdempotencyConflict(t *testing.T, e *env) {
	first := e.newTaskSpec()
	e.create(first)

	other := first
	other.ID = e.id("task")
	other.Input = json.RawMessage(`{"n":2}`)
	other.Fingerprint = first.Fingerprint + "-other"
	_, _, err := e.s.CreateTask(e.ctx, other)
	require.ErrorIs(t, err, taskbridge.ErrIdempotencyConflict)
	var conflict *taskbridge.IdempotencyConflictError
	require.ErrorAs(t, err, &conflict, "the conflict names the task the key belongs to")
	require.Equal(t, taskbridge.IdempotencyConflictError{TaskID: first.ID, ClientRequestID: first.ClientRequestID}, *conflict)

	requireNewTask(t, first, e.get(first.ID))
	_, err = e.s.GetTask(e.ctx, other.ID)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
}

func testCreateKeyIsPerOwner(t *testing.T, e *env) {
	a := e.newTaskSpec()
	e.create(a)

	b := a
	b.ID = e.id("task")
	b.Owner = e.prefix + "-other-owner"
	b.Type = "other"
	b.Fingerprint = a.Fingerprint + "-other"
	taskB, created, err := e.s.CreateTask(e.ctx, b)
	require.NoError(t, err)
	require.True(t, created, "the same clientRequestId of another owner is another task")
	require.Equal(t, b.ID, taskB.ID)

	c := a
	c.ID = e.id("task")
	c.Owner = e.prefix + "-third-owner"
	taskC, created, err := e.s.CreateTask(e.ctx, c)
	require.NoError(t, err)
	require.True(t, created, "an equal fingerprint of another owner is still another task")
	require.Equal(t, c.ID, taskC.ID)

	requireNewTask(t, a, e.get(a.ID))
	requireNewTask(t, b, e.get(b.ID))
	requireNewTask(t, c, e.get(c.ID))
}

func testCreateConcurrentIdentical(t *testing.T, e *env) {
	// Several rounds, each of many identical creates released together,
	// give a race between check and insert every chance to show.
	const rounds, n = 100, 10
	for range rounds {
		spec := e.newTaskSpec()
		ids := make([]string, n)
		for i := range ids {
			ids[i] = e.id("task")
		}
		type result struct {
			task    taskbridge.Task
			created bool
			err     error
		}
		results := make([]result, n)
		parallel(n, func(i int) {
			s := spec
			s.ID = ids[i] // each request proposes its own id, as the services do
			task, created, err := e.s.CreateTask(e.ctx, s)
			results[i] = result{task, created, err}
		})

		winner := ""
		for i, r := range results {
			require.NoError(t, r.err, "create %d", i)
			if r.created {
				require.Empty(t, winner, "exactly one concurrent create may create the task")
				winner = r.task.ID
				require.Equal(t, ids[i], winner, "the created task has the id its create proposed")
			}
		}
		require.NotEmpty(t, winner, "one concurrent create must create the task")
		for i, r := range results {
			require.Equal(t, winner, r.task.ID, "create %d must return the one task", i)
			require.Equal(t, spec.ClientRequestID, r.task.ClientRequestID)
		}
		for _, id := range ids {
			if id != winner {
				_, err := e.s.GetTask(e.ctx, id)
				require.ErrorIs(t, err, taskbridge.ErrTaskNotFound, "only one task may exist")
			}
		}
	}
}

func testGetTaskUnknown(t *testing.T, e *env) {
	_, err := e.s.GetTask(e.ctx, e.id("missing"))
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
}

// testNoAliasing checks that the store neither keeps nor hands out memory
// its caller can change afterwards.
func testNoAliasing(t *testing.T, e *env) {
	spec := e.newTaskSpec()
	spec.Input = json.RawMessage(`{"n":1}`)
	spec.Metadata = json.RawMessage(`{"m":1}`)
	spec.Attachments = []taskbridge.Attachment{{Field: "attachment", Name: "a.bin", ContentType: "application/octet-stream", Data: []byte{1, 2, 3}}}
	want := spec
	want.Input = json.RawMessage(`{"n":1}`)
	want.Metadata = json.RawMessage(`{"m":1}`)
	want.Attachments = []taskbridge.Attachment{{Field: "attachment", Name: "a.bin", ContentType: "application/octet-stream", Data: []byte{1, 2, 3}}}

	created := e.create(spec)
	copy(spec.Input, `{"n":9}`)
	copy(spec.Metadata, `{"m":9}`)
	spec.Attachments[0].Data[0] = 9
	spec.Attachments[0].Name = "changed"
	copy(created.Input, `{"n":8}`)
	created.Attachments[0].Data[1] = 8
	created.Attachments[0].Name = "changed too"
	got := e.get(spec.ID)
	requireNewTask(t, want, got)
	copy(got.Metadata, `{"m":7}`)
	got.Attachments[0].Data[2] = 7
	requireNewTask(t, want, e.get(spec.ID))

	e.start(spec.ID)
	payload := json.RawMessage(`{"message":"kept"}`)
	ev, err := e.s.Append(e.ctx, spec.ID, taskbridge.Append{Type: taskbridge.EventMessage, Payload: payload})
	require.NoError(t, err)
	copy(payload, `{"message":"gone"}`)
	copy(ev.Payload, `{"message":"lost"}`)
	read, err := e.s.ReadAfter(e.ctx, spec.ID, 1, 10, 0)
	require.NoError(t, err)
	require.Len(t, read, 1)
	require.JSONEq(t, `{"message":"kept"}`, string(read[0].Payload))
	copy(read[0].Payload, `{"message":"miss"}`)
	read, err = e.s.ReadAfter(e.ctx, spec.ID, 1, 10, 0)
	require.NoError(t, err)
	require.JSONEq(t, `{"message":"kept"}`, string(read[0].Payload))

	sus := e.suspension(spec.ID, e.base.Add(time.Hour))
	wantPayload := string(sus.Payload)
	_, err = e.suspendWith(sus)
	require.NoError(t, err)
	sus.AllowedActions[0] = "changed"
	copy(sus.Payload, `{"x":1}`)
	s := e.suspensionOf(spec.ID, sus.SuspendID)
	require.Equal(t, allowed, s.AllowedActions)
	require.JSONEq(t, wantPayload, string(s.Payload))
	s.AllowedActions[1] = "changed"
	copy(s.Payload, `{"y":2}`)
	s, ok, err := e.s.OpenSuspensionOf(e.ctx, spec.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, allowed, s.AllowedActions)
	s.AllowedActions[0] = "changed"
	s = e.suspensionOf(spec.ID, sus.SuspendID)
	require.Equal(t, allowed, s.AllowedActions)
	require.JSONEq(t, wantPayload, string(s.Payload))

	a := e.action(spec.ID, sus.SuspendID, e.id("act"), "approve", `{"ok":true}`, e.base)
	out := e.accept(a)
	copy(a.Payload, `{"ok":1234}`)
	copy(out.Receipt.Payload, `{"ok":5678}`)
	copy(out.Event.Payload, `{"x":"y"}`)
	again := e.action(spec.ID, sus.SuspendID, a.ClientActionID, "approve", `{"ok":true}`, e.base)
	dup := e.record(again, taskbridge.ActionDeduplicated)
	require.JSONEq(t, `{"ok":true}`, string(dup.Receipt.Payload))
	copy(dup.Receipt.Payload, `{"ok":9999}`)
	s = e.suspensionOf(spec.ID, sus.SuspendID)
	require.NotNil(t, s.Action)
	require.JSONEq(t, `{"ok":true}`, string(s.Action.Payload))
	events := e.events(spec.ID)
	require.JSONEq(t, string(e.action(spec.ID, sus.SuspendID, a.ClientActionID, "approve", `{"ok":true}`, e.base).AcceptedEvent),
		string(events[len(events)-1].Payload))
}
