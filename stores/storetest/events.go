package storetest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var eventCases = []testCase{
	{name: "AppendAssignsDenseIDs", run: testAppendAssignsDenseIDs},
	{name: "ReadAfterCursor", run: testReadAfterCursor},
	{name: "UnknownTaskHistory", run: testUnknownTaskHistory},
	{name: "AppendConcurrentOneTask", run: testAppendConcurrentOneTask, alone: true},
	{name: "AppendTasksIndependent", run: testAppendTasksIndependent},
	{name: "TaskFollowsAppends", run: testTaskFollowsAppends},
	{name: "KeyedAppendIsIdempotent", run: testKeyedAppendIsIdempotent},
	{name: "ReadAfterWithinBytes", run: testReadAfterWithinBytes},
	{name: "AppendFailsAloneAmongConcurrentAppends", run: testAppendFailsAlone, alone: true},
}

// A read bounded in bytes returns the longest run of events whose payloads
// fit, and the first event after the cursor however large it is.
func testReadAfterWithinBytes(t *testing.T, e *env) {
	id := e.newTask()
	sizes := []int{100, 1000, 100, 100, 5000, 100}
	var payloads []int
	for i, n := range sizes {
		typ := taskbridge.EventMessage
		if i == 0 {
			typ = taskbridge.EventStarted
		}
		a := taskbridge.Append{Type: typ, Status: statusOf(typ), Payload: json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`)}
		ev, err := e.s.Append(e.ctx, id, a)
		require.NoError(t, err)
		payloads = append(payloads, len(ev.Payload))
	}
	require.Equal(t, sizes, payloads)
	read := func(after uint64, limit, maxBytes int) []uint64 {
		events, err := e.s.ReadAfter(e.ctx, id, after, limit, maxBytes)
		require.NoError(t, err)
		return ids(events)
	}
	require.Equal(t, span(1, 6), read(0, 10, 0), "no byte bound")
	require.Equal(t, span(1, 2), read(0, 10, 1100), "exactly full")
	require.Equal(t, span(1, 1), read(0, 10, 1099))
	require.Equal(t, span(2, 4), read(1, 10, 1299), "from a cursor")
	require.Equal(t, span(5, 5), read(4, 10, 100), "the first event, however large")
	require.Equal(t, span(3, 4), read(2, 2, 10_000), "the event limit still holds")
	require.Empty(t, read(6, 10, 1))
}

// Appends that fail, each for its own reason, race many that succeed on
// other tasks (a store may commit concurrent appends together): each
// failure is its caller's alone, and every other append is stored.
func testAppendFailsAlone(t *testing.T, e *env) {
	const tasks, rounds = 24, 10
	good := make([]string, tasks)
	for i := range good {
		good[i] = e.runningTask()
	}
	ended := e.runningTask()
	e.add(ended, taskbridge.EventCompleted)
	dup := e.suspension(e.runningTask(), time.Time{})
	_, err := e.suspendWith(dup)
	require.NoError(t, err)
	retried := e.runningTask()
	stored, err := e.s.Append(e.ctx, retried, taskbridge.Append{Type: taskbridge.EventMessage, Payload: payloadOf(taskbridge.EventMessage, "once"), Key: "k"})
	require.NoError(t, err)

	for round := range rounds {
		errs := make([]error, tasks+3)
		parallel(tasks+3, func(i int) {
			switch i {
			case tasks: // its task has ended
				_, errs[i] = e.s.Append(e.ctx, ended, appendOf(taskbridge.EventMessage, "late"))
			case tasks + 1: // its suspension exists
				again := dup
				_, errs[i] = e.suspendWith(again)
			case tasks + 2: // a retry of an append that was stored
				var ev taskbridge.Event
				ev, errs[i] = e.s.Append(e.ctx, retried, taskbridge.Append{Type: taskbridge.EventMessage, Payload: payloadOf(taskbridge.EventMessage, "once"), Key: "k"})
				if errs[i] == nil && ev.ID != stored.ID {
					errs[i] = fmt.Errorf("the retry got event %d, not %d", ev.ID, stored.ID)
				}
			default:
				_, errs[i] = e.s.Append(e.ctx, good[i], appendOf(taskbridge.EventMessage, fmt.Sprint("round ", round)))
			}
		})
		for i := range tasks {
			require.NoError(t, errs[i], "round %d: a good append fails with the others", round)
		}
		require.ErrorIs(t, errs[tasks], taskbridge.ErrTaskEnded, "round %d", round)
		require.ErrorIs(t, errs[tasks+1], taskbridge.ErrSuspensionExists, "round %d", round)
		require.NoError(t, errs[tasks+2], "round %d", round)
	}
	for _, id := range good {
		require.Equal(t, span(1, 1+rounds), ids(e.events(id)), "every good append stored, once")
	}
	e.requireUnchanged(retried, stored.ID)
}

// A retried append finds the event its key made, whatever came after it,
// even once the task ended; an empty key appends every time.
func testKeyedAppendIsIdempotent(t *testing.T, e *env) {
	id, other := e.runningTask(), e.runningTask()
	keyed := func(taskID string, a taskbridge.Append, key string) (taskbridge.Event, error) {
		a.Key = key
		return e.s.Append(e.ctx, taskID, a)
	}
	first, err := keyed(id, appendOf(taskbridge.EventMessage, "first"), "k1")
	require.NoError(t, err)
	e.message(id) // another report came in between
	again, err := keyed(id, appendOf(taskbridge.EventMessage, "first"), "k1")
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "the retry finds its event")
	require.Equal(t, first.Type, again.Type)
	require.JSONEq(t, string(first.Payload), string(again.Payload))
	requireTime(t, first.CreatedAt, again.CreatedAt, "the retry's CreatedAt")
	e.requireUnchanged(id, first.ID+1)

	elsewhere, err := keyed(other, appendOf(taskbridge.EventMessage, "other"), "k1")
	require.NoError(t, err)
	require.Equal(t, uint64(2), elsewhere.ID, "keys are per task")

	s := e.suspension(id, time.Time{})
	suspend := taskbridge.Append{Type: taskbridge.EventSuspended, Payload: s.Payload, Suspension: &s}
	opened, err := keyed(id, suspend, "k2")
	require.NoError(t, err)
	retried, err := keyed(id, suspend, "k2")
	require.NoError(t, err, "the retry does not open the suspension again")
	require.Equal(t, opened.ID, retried.ID)

	done, err := keyed(id, appendOf(taskbridge.EventCompleted, "done"), "k3")
	require.NoError(t, err)
	retried, err = keyed(id, appendOf(taskbridge.EventCompleted, "done"), "k3")
	require.NoError(t, err, "the retry of the terminal event finds it")
	require.Equal(t, done.ID, retried.ID)
	_, err = keyed(id, appendOf(taskbridge.EventMessage, "late"), "k4")
	require.ErrorIs(t, err, taskbridge.ErrTaskEnded, "a new key after the end")
	_, err = keyed(id, appendOf(taskbridge.EventMessage, "late"), "")
	require.ErrorIs(t, err, taskbridge.ErrTaskEnded, "no key after the end")
	e.requireUnchanged(id, done.ID)
}

func testAppendAssignsDenseIDs(t *testing.T, e *env) {
	id := e.newTask()
	types := []taskbridge.EventType{
		taskbridge.EventStarted, taskbridge.EventProgress, taskbridge.EventMessage,
		taskbridge.EventProgress, taskbridge.EventCompleted,
	}
	var appended []taskbridge.Event
	for i, typ := range types {
		a := appendOf(typ, fmt.Sprintf("event %d", i))
		ev, err := e.s.Append(e.ctx, id, a)
		require.NoError(t, err)
		require.Equal(t, id, ev.TaskID)
		require.Equal(t, uint64(i+1), ev.ID, "ids are 1, 2, 3, ... in append order")
		require.Equal(t, typ, ev.Type)
		require.JSONEq(t, string(a.Payload), string(ev.Payload))
		requireStamped(t, ev.CreatedAt, "CreatedAt")
		if i > 0 {
			require.False(t, ev.CreatedAt.Before(appended[i-1].CreatedAt), "CreatedAt must not decrease within a task")
		}
		appended = append(appended, ev)
	}

	read := e.events(id)
	require.Len(t, read, len(appended))
	for i, want := range appended {
		got := read[i]
		require.Equal(t, want.TaskID, got.TaskID)
		require.Equal(t, want.ID, got.ID)
		require.Equal(t, want.Type, got.Type)
		require.JSONEq(t, string(want.Payload), string(got.Payload))
		requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt read back")
		require.Equal(t, "UTC", got.CreatedAt.Location().String(), "CreatedAt read back must be in UTC")
	}
}

func ids(events []taskbridge.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

func testReadAfterCursor(t *testing.T, e *env) {
	id := e.runningTask()
	for range 9 {
		e.message(id)
	}
	read := func(after uint64, limit int) []uint64 {
		t.Helper()
		events, err := e.s.ReadAfter(e.ctx, id, after, limit, 0)
		require.NoError(t, err)
		for _, ev := range events {
			require.Equal(t, id, ev.TaskID)
		}
		return ids(events)
	}
	require.Equal(t, span(1, 10), read(0, 100))
	require.Equal(t, span(4, 10), read(3, 100), "only events strictly after the cursor")
	require.Equal(t, []uint64{4, 5}, read(3, 2), "at most limit events")
	require.Equal(t, []uint64{1}, read(0, 1))
	require.Equal(t, []uint64{10}, read(9, 1))
	require.Empty(t, read(10, 100), "a cursor at the head has nothing newer")
	require.Empty(t, read(11, 100), "a cursor after the head has nothing newer")
	require.Empty(t, read(math.MaxInt64, 100), "every well-formed cursor is accepted")
	require.Empty(t, read(math.MaxUint64, 100), "every well-formed cursor is accepted")

	var walked []uint64
	cursor := uint64(0)
	for {
		page := read(cursor, 3)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 3)
		walked = append(walked, page...)
		cursor = page[len(page)-1]
	}
	require.Equal(t, span(1, 10), walked, "paging by cursor visits every event once, in order")
}

func testUnknownTaskHistory(t *testing.T, e *env) {
	missing := e.id("missing")
	_, err := e.s.ReadAfter(e.ctx, missing, 0, 10, 0)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = e.s.Append(e.ctx, missing, appendOf(taskbridge.EventMessage, "x"))
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = e.s.Append(e.ctx, missing, appendOf(taskbridge.EventStarted, "x"))
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound)
	_, err = e.s.GetTask(e.ctx, missing)
	require.ErrorIs(t, err, taskbridge.ErrTaskNotFound, "a failed append must not create the task")
}

func testAppendConcurrentOneTask(t *testing.T, e *env) {
	const writers, each = 20, 60
	id := e.runningTask()
	got := make([][]uint64, writers)
	errs := make([]error, writers)
	parallel(writers, func(w int) {
		for i := range each {
			payload := json.RawMessage(fmt.Sprintf(`{"message":"w%d-%d"}`, w, i))
			ev, err := e.s.Append(e.ctx, id, taskbridge.Append{Type: taskbridge.EventMessage, Payload: payload})
			if err != nil {
				errs[w] = err
				return
			}
			got[w] = append(got[w], ev.ID)
		}
	})

	byMessage := map[string]uint64{}
	var all []uint64
	for w := range writers {
		require.NoError(t, errs[w], "writer %d", w)
		require.Len(t, got[w], each)
		require.True(t, slices.IsSorted(got[w]), "one writer's sequential appends get increasing ids")
		for i, evID := range got[w] {
			byMessage[fmt.Sprintf("w%d-%d", w, i)] = evID
		}
		all = append(all, got[w]...)
	}
	slices.Sort(all)
	total := uint64(1 + writers*each)
	require.Equal(t, span(2, total), all, "concurrent appends get unique, dense ids")

	events := e.events(id)
	require.Equal(t, span(1, total), ids(events), "the history holds every append, in id order")
	for i, ev := range events[1:] {
		var p struct{ Message string }
		require.NoError(t, json.Unmarshal(ev.Payload, &p))
		want, ok := byMessage[p.Message]
		require.True(t, ok, "unexpected payload %s", ev.Payload)
		require.Equal(t, want, ev.ID, "event %s is stored under the id its append returned", p.Message)
		delete(byMessage, p.Message)
		require.False(t, ev.CreatedAt.Before(events[i].CreatedAt), "CreatedAt must not decrease within a task")
	}
	require.Empty(t, byMessage, "every append is in the history exactly once")
	require.Equal(t, total, e.get(id).LastEventID)

	var walked []uint64
	for cursor := uint64(0); ; {
		page, err := e.s.ReadAfter(e.ctx, id, cursor, 97, 0)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		walked = append(walked, ids(page)...)
		cursor = page[len(page)-1].ID
	}
	require.Equal(t, span(1, total), walked, "paging a long history visits every event once, in order")
}

func testAppendTasksIndependent(t *testing.T, e *env) {
	a, b := e.newTask(), e.newTask()
	require.Equal(t, uint64(1), e.start(a).ID)
	require.Equal(t, uint64(2), e.message(a).ID)
	require.Equal(t, uint64(1), e.start(b).ID, "each task counts its own ids")
	require.Equal(t, uint64(3), e.message(a).ID)
	require.Equal(t, uint64(2), e.message(b).ID)
	e.add(b, taskbridge.EventCompleted)
	require.Equal(t, uint64(4), e.message(a).ID, "ending one task does not touch another")

	require.Equal(t, span(1, 4), ids(e.events(a)))
	require.Equal(t, span(1, 3), ids(e.events(b)))
	require.Equal(t, taskbridge.StatusRunning, e.get(a).Status)
	require.Equal(t, taskbridge.StatusCompleted, e.get(b).Status)
}

func testTaskFollowsAppends(t *testing.T, e *env) {
	id := e.newTask()
	prev := e.get(id)
	for _, typ := range []taskbridge.EventType{
		taskbridge.EventStarted, taskbridge.EventProgress, taskbridge.EventMessage, taskbridge.EventFailed,
	} {
		ev := e.add(id, typ)
		task := e.get(id)
		require.Equal(t, ev.ID, task.LastEventID, "LastEventID follows appends")
		require.False(t, task.UpdatedAt.Before(prev.UpdatedAt), "UpdatedAt must not go back")
		require.False(t, task.UpdatedAt.Before(ev.CreatedAt), "UpdatedAt is at least the newest event's time")
		if typ.IsTerminal() {
			require.Equal(t, taskbridge.StatusFailed, task.Status)
			require.False(t, task.EndedAt.IsZero(), "EndedAt is set by the terminal event")
			require.False(t, task.EndedAt.Before(prev.UpdatedAt), "EndedAt is when the terminal event was appended")
		} else {
			require.True(t, task.EndedAt.IsZero(), "EndedAt stays zero while the task lives")
		}
		requireNewTask(t, prev.NewTask, task)
		prev = task
	}
}
