package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations are the schema's versions, applied in order: NNNN_name.sql.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migration is one version of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	out := make([]migration, 0, len(files))
	for i, f := range files { // Glob sorts by name, so by version
		name := strings.TrimSuffix(path.Base(f), ".sql")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: want the name %04d_<what>.sql", f, i+1)
		}
		sql, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(sql)})
	}
	return out, nil
}

// Migrate brings the schema to the newest version the binary carries, in one
// transaction, and returns the versions it applied. Replicas that start at
// once take turns under an advisory lock of the schema, so each version is
// applied exactly once; a schema already current is left alone. It fails
// when the database is unreachable: a host retries it.
func (s *Store) Migrate(ctx context.Context) (applied []int, err error) {
	defer unavailable(&err)
	all, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		applied = applied[:0]
		// The lock comes before CREATE SCHEMA, which is not safe to race.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('taskbridge-migrate:' || $1, 0))`, s.cfg.Schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.cfg.Schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if current > len(all) {
			return fmt.Errorf("the schema is at version %d, newer than this binary's %d", current, len(all))
		}
		for _, m := range all[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
			applied = append(applied, m.version)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate schema %s: %w", s.cfg.Schema, err)
	}
	s.migrated.Store(true)
	return applied, nil
}
