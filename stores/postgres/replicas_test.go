package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/internal/pgtest"
	"github.com/taskbridge-go/taskbridge/stores/postgres"
)

// guard bounds waits; it only turns a hang into a failure.
const guard = 30 * time.Second

// replicas opens n stores on one fresh schema, each with its own pool, as n
// processes would.
func replicas(t *testing.T, n int) []*postgres.Store {
	t.Helper()
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url, "tbtest")
	out := make([]*postgres.Store, n)
	for i := range out {
		s, err := postgres.Open(postgres.Config{URL: url, Schema: schema, ReconnectMin: 50 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(s.Close)
		out[i] = s
	}
	return out
}

func TestMigrateConcurrently(t *testing.T) {
	stores := replicas(t, 4)
	ctx := t.Context()
	for _, s := range stores {
		require.ErrorContains(t, s.Check(ctx), "not migrated")
	}
	applied := make([][]int, len(stores))
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { applied[i], errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	total := 0
	for i := range stores {
		require.NoError(t, errs[i])
		total += len(applied[i])
		require.NoError(t, stores[i].Check(ctx))
	}
	var versions int
	require.NoError(t, stores[0].Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&versions))
	require.Equal(t, versions, total, "each version is applied by exactly one replica")
	again, err := stores[0].Migrate(ctx)
	require.NoError(t, err)
	require.Empty(t, again, "a current schema is left alone")
}

func TestUnreachableDatabase(t *testing.T) {
	s, err := postgres.Open(postgres.Config{URL: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"})
	require.NoError(t, err, "opening does not connect")
	defer s.Close()
	ctx := t.Context()
	_, err = s.Migrate(ctx)
	require.Error(t, err)
	require.Error(t, s.Check(ctx))
	_, err = s.GetTask(ctx, "t")
	require.Error(t, err)
	require.NotErrorIs(t, err, taskbridge.ErrTaskNotFound, "an outage is not a missing task")

	_, err = postgres.Open(postgres.Config{URL: "postgres://x@127.0.0.1/db", Schema: "Bad-Name"})
	require.ErrorContains(t, err, "schema")
}

func newTask(id string) taskbridge.NewTask {
	return taskbridge.NewTask{
		ID: id, Owner: "owner", ClientRequestID: "req-" + id, Type: "job",
		Input: json.RawMessage(`{"n": 1}`), Fingerprint: "fp", CreatedAt: time.Now(),
	}
}

// TestReplicasShareOneTruth runs what several processes do at once, each
// through its own pool: identical creates, appends to one task, and a watch
// in one process of appends made by the others.
func TestReplicasShareOneTruth(t *testing.T) {
	stores := replicas(t, 3)
	ctx := t.Context()
	_, err := stores[0].Migrate(ctx)
	require.NoError(t, err)

	ids := make([]string, len(stores))
	created := make([]bool, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			spec := newTask(fmt.Sprint("task-", i)) // a different new ID each, one key
			spec.ClientRequestID = "same-request"
			task, c, err := s.CreateTask(ctx, spec)
			assert.NoError(t, err)
			ids[i], created[i] = task.ID, c
		})
	}
	wg.Wait()
	require.ElementsMatch(t, []bool{true, false, false}, created, "one create makes the task")
	require.Equal(t, ids[0], ids[1])
	require.Equal(t, ids[0], ids[2])
	task := ids[0]

	watched := make(chan taskbridge.Announcement, 1024)
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- stores[0].WatchAppends(watchCtx, func(a taskbridge.Announcement) { watched <- a }) }()
	defer func() { stop(); require.ErrorIs(t, <-done, context.Canceled) }()
	requireAnnounced(t, watched, "") // live

	_, err = stores[1].Append(ctx, task, taskbridge.Append{Type: taskbridge.EventStarted, Payload: json.RawMessage(`{}`), Status: taskbridge.StatusRunning})
	require.NoError(t, err)
	const each = 50
	for _, s := range stores {
		wg.Go(func() {
			for range each {
				_, err := s.Append(ctx, task, taskbridge.Append{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{"message":"m"}`)})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	events, err := stores[2].ReadAfter(ctx, task, 0, 1000, 0)
	require.NoError(t, err)
	require.Len(t, events, 1+len(stores)*each)
	for i, e := range events {
		require.Equal(t, uint64(i+1), e.ID, "ids are dense and in order")
		if i > 0 {
			require.False(t, e.CreatedAt.Before(events[i-1].CreatedAt), "times never decrease")
		}
	}
	requireAnnouncedUpTo(t, watched, task, events[len(events)-1].ID)
}

// requireAnnounced waits for an announcement of the task ("" for the empty
// one), skipping others.
func requireAnnounced(t *testing.T, ch <-chan taskbridge.Announcement, taskID string) {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case a := <-ch:
			if a.TaskID == taskID {
				return
			}
		case <-timeout:
			t.Fatalf("no announcement of task %q", taskID)
		}
	}
}

// requireAnnouncedUpTo waits for an announcement of the task's event id.
func requireAnnouncedUpTo(t *testing.T, ch <-chan taskbridge.Announcement, taskID string, id uint64) {
	t.Helper()
	timeout := time.After(guard)
	for {
		select {
		case a := <-ch:
			if a.TaskID == taskID && a.EventID >= id {
				require.Equal(t, id, a.EventID, "an announcement names an appended event")
				return
			}
		case <-timeout:
			t.Fatalf("event %d of task %q was not announced", id, taskID)
		}
	}
}

// TestWatchSurvivesLostConnection kills the watch's connection from the
// server side, as a database restart or a network cut would, and requires
// the watch to come back by itself, say so with an empty announcement and
// announce appends again.
func TestWatchSurvivesLostConnection(t *testing.T) {
	stores := replicas(t, 1)
	s := stores[0]
	ctx := t.Context()
	_, err := s.Migrate(ctx)
	require.NoError(t, err)
	_, _, err = s.CreateTask(ctx, newTask("t"))
	require.NoError(t, err)

	watched := make(chan taskbridge.Announcement, 1024)
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.WatchAppends(watchCtx, func(a taskbridge.Announcement) { watched <- a }) }()
	defer func() { stop(); require.ErrorIs(t, <-done, context.Canceled) }()
	requireAnnounced(t, watched, "")
	require.NoError(t, s.Check(ctx))

	var killed int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = $1`,
		fmt.Sprintf(`LISTEN "%s"`, channelOf(t, s))).Scan(&killed))
	require.Equal(t, 1, killed, "the watch holds one connection")

	// Appended while the watch may be reconnecting: the empty announcement
	// that follows the reconnect tells readers to re-read.
	_, err = s.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventStarted, Payload: json.RawMessage(`{}`), Status: taskbridge.StatusRunning})
	require.NoError(t, err)
	requireAnnounced(t, watched, "")
	ev, err := s.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{}`)})
	require.NoError(t, err)
	requireAnnouncedUpTo(t, watched, "t", ev.ID)
	require.NoError(t, s.Check(ctx))
}

// channelOf is the store's notification channel: "<schema>_appends".
func channelOf(t *testing.T, s *postgres.Store) string {
	t.Helper()
	var schema string
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema))
	return schema + "_appends"
}
