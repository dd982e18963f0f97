// Package pgtest gives tests the PostgreSQL database they run against and a
// schema of their own in it.
//
// The database is named by TASKBRIDGE_TEST_POSTGRES_URL. Without it a test
// skips, unless CI is set: CI must run every PostgreSQL test, so there it
// fails instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that holds the test database's URL.
const EnvURL = "TASKBRIDGE_TEST_POSTGRES_URL"

// URL returns the test database's URL, or skips t (fails it in CI).
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(EnvURL + " is not set; CI must run the PostgreSQL tests")
		}
		t.Skip(EnvURL + " is not set: set it to a database these tests may create schemas in, such as postgres://postgres@127.0.0.1:5432/taskbridge_test")
	}
	return url
}

// Schema returns a new schema name starting with prefix; whatever creates
// the schema, it is dropped when t ends.
func Schema(t testing.TB, url, prefix string) string {
	t.Helper()
	schema := prefix + "_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
