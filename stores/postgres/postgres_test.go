package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/internal/pgtest"
	"github.com/taskbridge-go/taskbridge/stores/postgres"
	"github.com/taskbridge-go/taskbridge/stores/storetest"
)

// openStore opens a migrated store in a fresh schema, closed at cleanup.
func openStore(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	cfg.URL = pgtest.URL(t)
	if cfg.Schema == "" {
		cfg.Schema = pgtest.Schema(t, cfg.URL, "tbtest")
	}
	s, err := postgres.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(context.Background())
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) taskbridge.Store {
		return openStore(t, postgres.Config{})
	}, storetest.Features{})
}

// Close stops the appender: an append that comes after fails with
// ErrClosed instead of waiting for a batch that never runs, and Close may
// be called again.
func TestAppendAfterCloseFails(t *testing.T) {
	t.Parallel()
	s := openStore(t, postgres.Config{})
	ctx := t.Context()
	_, _, err := s.CreateTask(ctx, taskbridge.NewTask{ID: "t", Owner: "o", ClientRequestID: "r", Type: "job", Fingerprint: "f", CreatedAt: time.Now()})
	require.NoError(t, err)
	_, err = s.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventStarted, Status: taskbridge.StatusRunning, Payload: json.RawMessage(`{}`)})
	require.NoError(t, err, "the appender runs")
	s.Close()
	_, err = s.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{"message":"late"}`)})
	require.ErrorIs(t, err, taskbridge.ErrClosed)
}

// A task stored before the schema kept progress and outcome on the task
// gets them from its history when the schema is migrated.
func TestMigrationKeepsWhatEarlierTasksShow(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url, "tbkept")
	s := openStore(t, postgres.Config{Schema: schema})
	ctx := t.Context()
	_, _, err := s.CreateTask(ctx, taskbridge.NewTask{ID: "t", Owner: "o", ClientRequestID: "r", Type: "job", Fingerprint: "f", CreatedAt: time.Now()})
	require.NoError(t, err)
	for _, a := range []taskbridge.Append{
		{Type: taskbridge.EventStarted, Status: taskbridge.StatusRunning, Payload: json.RawMessage(`{}`)},
		{Type: taskbridge.EventProgress, Payload: json.RawMessage(`{"progress":10}`)},
		{Type: taskbridge.EventProgress, Payload: json.RawMessage(`{"progress":90,"stage":"last"}`)},
		{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{"message":"m"}`)},
		{Type: taskbridge.EventFailed, Status: taskbridge.StatusFailed, Payload: json.RawMessage(`{"code":"X","message":"x","retryable":false}`)},
	} {
		_, err := s.Append(ctx, "t", a)
		require.NoError(t, err)
	}
	// Back to the schema before the columns existed (0006 is the newest
	// migration; a later one has to be undone here too).
	_, err = s.Pool().Exec(ctx, `ALTER TABLE tasks DROP COLUMN progress, DROP COLUMN outcome;
		DELETE FROM schema_migrations WHERE name = '0006_snapshot'`)
	require.NoError(t, err)

	again := openStore(t, postgres.Config{Schema: schema}) // migrates, with a pool of its own
	task, err := again.GetTask(ctx, "t")
	require.NoError(t, err)
	require.JSONEq(t, `{"progress":90,"stage":"last"}`, string(task.Progress))
	require.JSONEq(t, `{"code":"X","message":"x","retryable":false}`, string(task.Outcome))
}
