package postgres_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/postgres"
	"github.com/taskbridge-go/taskbridge/stores/storetest"
)

// databaseURL is the test database's URL; without it the test skips, but
// never in CI.
func databaseURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("TASKBRIDGE_TEST_POSTGRES_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TASKBRIDGE_TEST_POSTGRES_URL is not set; CI must run the PostgreSQL tests")
		}
		t.Skip("TASKBRIDGE_TEST_POSTGRES_URL is not set: set it to a database these tests may create schemas in, such as postgres://postgres@127.0.0.1:5432/taskbridge_test")
	}
	return url
}

// newSchema returns a fresh schema name and drops the schema at cleanup.
func newSchema(t testing.TB, url string) string {
	t.Helper()
	schema := "tbtest_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		s, err := postgres.Open(postgres.Config{URL: url, Schema: schema})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		if _, err := s.Pool().Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openStore opens a migrated store in a fresh schema, closed at cleanup.
func openStore(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	cfg.URL = databaseURL(t)
	if cfg.Schema == "" {
		cfg.Schema = newSchema(t, cfg.URL)
	}
	s, err := postgres.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(context.Background())
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	databaseURL(t)
	storetest.Run(t, func(t *testing.T) taskbridge.Store {
		return openStore(t, postgres.Config{})
	}, storetest.Features{})
}
