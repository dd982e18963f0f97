package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskbridge-go/taskbridge"
)

var (
	_ taskbridge.Store          = (*Store)(nil)
	_ taskbridge.ReadinessProbe = (*Store)(nil)
	_ taskbridge.Preparer       = (*Store)(nil)
	_ taskbridge.SharedStore    = (*Store)(nil)
)

// Defaults of Config.
const (
	DefaultSchema       = "taskbridge"
	DefaultReconnectMin = 100 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
	DefaultListenPing   = 15 * time.Second
)

// Config says where and how a Store keeps its data; a zero field is its
// default.
type Config struct {
	// URL is the connection string, as a URL or in key=value form
	// (pgxpool.ParseConfig). Pool settings such as pool_max_conns go in it.
	URL string
	// Schema holds the store's tables; it is created when missing. Several
	// stores may share one database, each in its own schema.
	Schema string
	// ReconnectMin and ReconnectMax bound the backoff between attempts to
	// restore the notification connection of WatchAppends.
	ReconnectMin, ReconnectMax time.Duration
	// ListenPing is how long the notification connection may stay silent
	// before it is pinged, so that a dead server is noticed.
	ListenPing time.Duration
	// Logger receives the notification connection's losses and recoveries;
	// nil discards them.
	Logger *slog.Logger
}

// Store keeps tasks in PostgreSQL. Create it with Open, prepare its schema
// with Migrate, release it with Close. All methods are safe for concurrent
// use.
type Store struct {
	cfg     Config
	pool    *pgxpool.Pool
	channel string // the NOTIFY channel of this store's appends
	log     *slog.Logger
	// appender batches appends; its workers run from the first append to
	// Close.
	appender *appender

	migrated atomic.Bool
	// watches counts running WatchAppends calls, live those whose
	// notification connection is up; Check reports an outage.
	watches, live atomic.Int32
}

// schemaName is what Schema may be: a plain lower-case identifier, so that
// it needs no quoting anywhere.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,50}$`)

// Open returns a store over the database at cfg.URL. It does not connect:
// connections are made when they are needed, so a store opens while the
// database is down (Check reports it). Call Migrate before anything else.
func Open(cfg Config) (*Store, error) {
	if cfg.Schema == "" {
		cfg.Schema = DefaultSchema
	}
	if !schemaName.MatchString(cfg.Schema) {
		return nil, fmt.Errorf("postgres: schema %q is not a lower-case identifier", cfg.Schema)
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = DefaultReconnectMin
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = DefaultReconnectMax
	}
	if cfg.ListenPing <= 0 {
		cfg.ListenPing = DefaultListenPing
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "taskbridge"
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, pool: pool, channel: cfg.Schema + "_appends", log: log}
	s.appender = newAppender(s)
	return s, nil
}

// Close stops the appender and closes the store's connections. Calls in
// flight fail, and appends after fail with taskbridge.ErrClosed; running
// WatchAppends calls keep their own connection until their ctx ends.
func (s *Store) Close() {
	s.appender.close()
	s.pool.Close()
}

// Pool is the store's connection pool, for a host that wants to share it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Prepare applies the migrations (Migrate); a bridge calls it at Run.
func (s *Store) Prepare(ctx context.Context) error {
	_, err := s.Migrate(ctx)
	return err
}

// Shared reports true: every process that opens the same database and
// schema shares the store, as replicas.
func (s *Store) Shared() bool { return true }

// Name labels the store in readiness details.
func (s *Store) Name() string { return "postgres" }

// Check reports whether the store is usable: the schema is migrated, the
// database answers, and no WatchAppends call has lost its notifications.
func (s *Store) Check(ctx context.Context) error {
	if !s.migrated.Load() {
		return errors.New("the schema is not migrated yet")
	}
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if s.watches.Load() > s.live.Load() {
		return errors.New("the notification connection is down")
	}
	return nil
}

// querier is what runs a statement: the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction and commits it when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// uniqueViolation reports whether err is a unique constraint's violation,
// naming the constraint.
func uniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}

// requireTask returns nil when the task exists and ErrTaskNotFound when it
// does not: the answer of a read that found nothing of the task.
func requireTask(ctx context.Context, q querier, taskID string) error {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM tasks WHERE id = $1)`, taskID).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: find task %q: %w", taskID, err)
	}
	if !exists {
		return taskNotFound(taskID)
	}
	return nil
}

func taskNotFound(taskID string) error {
	return fmt.Errorf("task %q: %w", taskID, taskbridge.ErrTaskNotFound)
}

// utc returns t in UTC, and a nil time for SQL NULL as the zero time.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullTime is t for a nullable column: nil when zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
