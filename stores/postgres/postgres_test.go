package postgres_test

import (
	"context"
	"testing"

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
