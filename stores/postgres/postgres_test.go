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
