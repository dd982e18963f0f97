package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbridge-go/taskbridge"
)

var _ taskbridge.LeaseStore = (*Store)(nil)

// renewSQL renews a lease, takes and lets go of tasks in one statement, and
// returns the database's time of the renewal.
const renewSQL = `
WITH clock AS (SELECT clock_timestamp() AS now),
lease AS (
	INSERT INTO executor_leases (holder, lease_until)
	SELECT @holder::text, now + @ttl::bigint * interval '1 microsecond' FROM clock
	ON CONFLICT (holder) DO UPDATE SET lease_until = excluded.lease_until
),
taken AS (
	UPDATE tasks SET lease_holder = @holder
	WHERE id = ANY(@taken::text[]) AND ended_at IS NULL AND lease_holder IS NULL
),
released AS (
	UPDATE tasks SET lease_holder = NULL
	WHERE id = ANY(@released::text[]) AND ended_at IS NULL AND lease_holder = @holder AND NOT lease_lost
)
SELECT now FROM clock`

// RenewLease extends holder's lease, takes the tasks of taken that no one
// holds and lets go of those of released; see taskbridge.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, holder string, ttl time.Duration, taken, released []string) (at time.Time, err error) {
	defer unavailable(&err)
	args := pgx.NamedArgs{"holder": holder, "ttl": ttl.Microseconds(), "taken": nonNil(taken), "released": nonNil(released)}
	if err := s.pool.QueryRow(ctx, renewSQL, args).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("postgres: renew the lease of %q: %w", holder, err)
	}
	return at.UTC(), nil
}

// claimSQL claims lost tasks for a holder and returns them with those it
// claimed before and has not ended. A task locked by an append or another
// claim in progress is skipped: a later claim finds it if it is still lost.
// The lease is looked up in a subquery, not a join, so that the check is
// made again on the newest version of a task that a concurrent claim
// changed between this statement's snapshot and its lock.
const claimSQL = `
WITH lost AS (
	SELECT t.id FROM tasks t
	WHERE t.ended_at IS NULL AND t.lease_holder IS DISTINCT FROM @holder::text
		AND CASE WHEN t.lease_holder IS NULL
			THEN t.created_at < @before::timestamptz - @ttl::bigint * interval '1 microsecond'
			ELSE NOT EXISTS (SELECT FROM executor_leases l
				WHERE l.holder = t.lease_holder AND l.lease_until >= @before) END
	ORDER BY t.created_at, t.id
	LIMIT @limit
	FOR UPDATE SKIP LOCKED
),
claimed AS (
	UPDATE tasks SET lease_holder = @holder, lease_lost = true FROM lost
	WHERE tasks.id = lost.id
	RETURNING tasks.id
)
SELECT id FROM claimed
UNION ALL
(SELECT id FROM tasks WHERE lease_holder = @holder AND lease_lost AND ended_at IS NULL
	ORDER BY created_at, id LIMIT @limit)`

// ClaimLostTasks forgets the expired leases that hold no live task any
// more, then claims up to limit lost tasks for holder and returns them with
// those it claimed before; see taskbridge.LeaseStore.
func (s *Store) ClaimLostTasks(ctx context.Context, holder string, expiredBefore time.Time, ttl time.Duration, limit int) (_ []string, err error) {
	defer unavailable(&err)
	if limit <= 0 {
		return []string{}, nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM executor_leases l WHERE l.lease_until < $1
		AND NOT EXISTS (SELECT FROM tasks t WHERE t.lease_holder = l.holder AND t.ended_at IS NULL)`, expiredBefore); err != nil {
		return nil, fmt.Errorf("postgres: forget expired leases: %w", err)
	}
	args := pgx.NamedArgs{"holder": holder, "before": expiredBefore, "ttl": ttl.Microseconds(), "limit": limit}
	rows, _ := s.pool.Query(ctx, claimSQL, args)
	ids, err := pgx.AppendRows([]string{}, rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: claim lost tasks: %w", err)
	}
	return ids, nil
}

// nonNil is s, or an empty slice: pgx sends a nil slice as NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
