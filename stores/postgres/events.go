package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/taskbridge-go/taskbridge"
)

// appendSQL applies one append in one statement: it moves the task's
// counter and status under the task row's lock (concurrent appends to the
// task queue on that lock, from any process), keeps on the task what the
// append leaves there (@progress and @outcome, from Append.Kept), inserts
// the event, opens the suspension or closes the open ones, and notifies the
// watchers, whose notification PostgreSQL delivers at commit. The task row
// is updated only when its current status is one the move may start from
// and a refused cancellation does not stand in the way; otherwise no row
// comes back and the caller finds out why.
const appendSQL = `
WITH clock AS (SELECT clock_timestamp() AS now),
task AS (
	UPDATE tasks SET
		last_event_id = last_event_id + 1,
		status = coalesce(@status::text, status),
		updated_at = greatest(clock.now, updated_at),
		ended_at = CASE WHEN @ends::boolean THEN greatest(clock.now, updated_at) END,
		progress = coalesce(@progress::json, progress),
		outcome = coalesce(@outcome::json, outcome)
	FROM clock
	WHERE id = @task::text AND status = ANY(@from::text[])
		AND NOT (cancel_requested AND @refused_once_cancelled::boolean)
	RETURNING id, last_event_id, updated_at
),
event AS (
	INSERT INTO events (task_id, event_id, type, created_at, payload, payload_bytes, report_key)
	SELECT id, last_event_id, @type::text, updated_at, @payload::json, @payload_bytes::integer, nullif(@key::text, '') FROM task
	RETURNING event_id, created_at
),
opened AS (
	INSERT INTO suspensions (task_id, suspend_id, opened_event_id, allowed_actions, expires_at,
		payload, created_at, state)
	SELECT @task, @suspend_id::text, event_id, @allowed_actions::text[], @expires_at::timestamptz,
		coalesce(@suspension_payload::json, @payload), coalesce(@suspension_created_at::timestamptz, created_at), 'open'
	FROM event WHERE @suspend_id IS NOT NULL
),
closed AS (
	UPDATE suspensions SET state = 'closed'
	WHERE @ends AND task_id = @task AND state = 'open' AND EXISTS (SELECT FROM event)
)
SELECT event_id, created_at FROM event, pg_notify(@channel::text, @task || ' ' || event_id)`

// statuses are every status a task can be in.
var statuses = []taskbridge.TaskStatus{
	taskbridge.StatusAccepted, taskbridge.StatusRunning,
	taskbridge.StatusCompleted, taskbridge.StatusFailed, taskbridge.StatusCancelled,
}

// movableFrom lists the statuses from which a task may take the append's
// status move (all live ones when it keeps the status).
func movableFrom(next taskbridge.TaskStatus) []string {
	var from []string
	for _, s := range statuses {
		if !s.IsTerminal() && (next == "" || s.CanMoveTo(next)) {
			from = append(from, string(s))
		}
	}
	return from
}

// Append adds the event, its status move and its suspension to the task in
// one statement, stamping the next event id and CreatedAt (the database's
// clock, never earlier than the task's previous event), and notifies every
// watching process. The statement goes in a batch with the other appends
// waiting at that moment (see appender), which commit together. See
// taskbridge.EventStore for the errors; besides those, a Suspension without
// a TASK_SUSPENDED event or without a SuspendID is refused.
func (s *Store) Append(ctx context.Context, taskID string, a taskbridge.Append) (_ taskbridge.Event, err error) {
	defer unavailable(&err)
	args, err := s.appendArgs(ctx, s.pool, taskID, a)
	if err != nil {
		return taskbridge.Event{}, err
	}
	return s.appender.do(&appendCall{ctx: ctx, taskID: taskID, a: a, args: args, done: make(chan struct{})})
}

// appendWith appends alone through q, the pool or the transaction of an
// action.
func (s *Store) appendWith(ctx context.Context, q querier, taskID string, a taskbridge.Append) (taskbridge.Event, error) {
	args, err := s.appendArgs(ctx, q, taskID, a)
	if err != nil {
		return taskbridge.Event{}, err
	}
	ev := taskbridge.Event{TaskID: taskID, Type: a.Type, Payload: a.Payload}
	var id int64
	if err := q.QueryRow(ctx, appendSQL, args).Scan(&id, &ev.CreatedAt); err != nil {
		return s.settle(ctx, q, taskID, a, err)
	}
	ev.ID, ev.CreatedAt = uint64(id), ev.CreatedAt.UTC()
	return ev, nil
}

// appendArgs are the arguments of appendSQL for the append, or why it is
// refused before it is sent: a malformed suspension, or a broken pairing of
// event and status (which q, the pool or an action's transaction, tells).
func (s *Store) appendArgs(ctx context.Context, q querier, taskID string, a taskbridge.Append) (pgx.NamedArgs, error) {
	progress, outcome := a.Kept()
	args := pgx.NamedArgs{
		"task": taskID, "type": string(a.Type), "payload": a.Payload, "payload_bytes": len(a.Payload), "key": a.Key, "channel": s.channel,
		"status": nil, "from": movableFrom(a.Status), "ends": a.Status.IsTerminal(), "progress": progress, "outcome": outcome,
		"refused_once_cancelled": a.Type.IsTerminal() && a.Type != taskbridge.EventCancelled,
		"suspend_id":             nil, "allowed_actions": nil, "expires_at": nil,
		"suspension_payload": nil, "suspension_created_at": nil,
	}
	if a.Status != "" {
		args["status"] = string(a.Status)
	}
	if sp := a.Suspension; sp != nil {
		if a.Type != taskbridge.EventSuspended {
			return nil, fmt.Errorf("postgres: a suspension comes only with a %s event, not %s", taskbridge.EventSuspended, a.Type)
		}
		if sp.SuspendID == "" {
			return nil, errors.New("postgres: a suspension needs a SuspendID")
		}
		allowed := sp.AllowedActions
		if allowed == nil {
			allowed = []string{}
		}
		args["suspend_id"], args["allowed_actions"] = sp.SuspendID, allowed
		args["expires_at"], args["suspension_created_at"] = nullTime(sp.ExpiresAt), nullTime(sp.CreatedAt)
		if sp.Payload != nil {
			args["suspension_payload"] = sp.Payload
		}
	}
	if pairingBroken(a) {
		return nil, s.refusal(ctx, q, taskID, a)
	}
	return args, nil
}

// settle answers an append whose statement stored nothing (err says why:
// no row came back, or it failed): the event of its Key when an earlier
// try stored it, or the reason it was refused.
func (s *Store) settle(ctx context.Context, q querier, taskID string, a taskbridge.Append, err error) (taskbridge.Event, error) {
	if a.Key != "" {
		if ev, found, kerr := s.keyed(ctx, q, taskID, a.Key); kerr != nil || found {
			return ev, kerr
		}
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return taskbridge.Event{}, s.refusal(ctx, q, taskID, a)
	case uniqueViolation(err, "suspensions_pkey"):
		return taskbridge.Event{}, fmt.Errorf("suspension %q of task %q: %w", a.Suspension.SuspendID, taskID, taskbridge.ErrSuspensionExists)
	default:
		return taskbridge.Event{}, fmt.Errorf("postgres: append to task %q: %w", taskID, err)
	}
}

// keyed returns the task's event appended with the key, if there is one.
func (s *Store) keyed(ctx context.Context, q querier, taskID, key string) (taskbridge.Event, bool, error) {
	ev := taskbridge.Event{TaskID: taskID}
	var id int64
	var typ string
	err := q.QueryRow(ctx, `SELECT event_id, type, created_at, payload FROM events
		WHERE task_id = $1 AND report_key = $2`, taskID, key).Scan(&id, &typ, &ev.CreatedAt, &ev.Payload)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return taskbridge.Event{}, false, nil
	case err != nil:
		return taskbridge.Event{}, false, fmt.Errorf("postgres: append to task %q: find key: %w", taskID, err)
	}
	ev.ID, ev.Type, ev.CreatedAt = uint64(id), taskbridge.EventType(typ), ev.CreatedAt.UTC()
	return ev, true, nil
}

// pairingBroken reports a terminal event without its own terminal status, or
// a terminal status without its own event.
func pairingBroken(a taskbridge.Append) bool {
	return (a.Type.IsTerminal() || a.Status.IsTerminal()) && a.Type.EndStatus() != a.Status
}

// refusal finds out why the append was refused, checking in the order of
// the memory store: an ended task, a refused cancellation, a status move
// that is not allowed, then a broken pairing of event and status. A status
// only moves forward and a cancel request stays, so a reason found now held
// when the append was refused.
func (s *Store) refusal(ctx context.Context, q querier, taskID string, a taskbridge.Append) error {
	var status string
	var cancelRequested bool
	err := q.QueryRow(ctx, `SELECT status, cancel_requested FROM tasks WHERE id = $1`, taskID).Scan(&status, &cancelRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return taskNotFound(taskID)
	}
	if err != nil {
		return fmt.Errorf("postgres: append to task %q: %w", taskID, err)
	}
	current := taskbridge.TaskStatus(status)
	next := current
	if a.Status != "" {
		next = a.Status
	}
	switch {
	case current.IsTerminal():
		return fmt.Errorf("task %q is %s: %w", taskID, current, taskbridge.ErrTaskEnded)
	case a.Type.IsTerminal() && a.Type != taskbridge.EventCancelled && cancelRequested:
		return fmt.Errorf("task %q refuses %s: %w", taskID, a.Type, taskbridge.ErrCancelRequested)
	case !current.CanMoveTo(next):
		return fmt.Errorf("task %q from %s to %s: %w", taskID, current, next, taskbridge.ErrInvalidTransition)
	case pairingBroken(a):
		return fmt.Errorf("task %q: a %s event with status %s: %w", taskID, a.Type, next, taskbridge.ErrInvalidTransition)
	}
	return fmt.Errorf("postgres: append to task %q was refused, but the task now allows it", taskID)
}

// readSQL reads a page of a task's history; readBytesSQL one bounded in
// payload bytes too, summed over the page's rows only from their
// payload_bytes (so no payload is read that is not returned), keeping the
// first row however large it is.
const (
	readSQL = `SELECT event_id, type, created_at, payload FROM events
		WHERE task_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3`
	readBytesSQL = `SELECT event_id, type, created_at, payload FROM (
		SELECT page.*, row_number() OVER w AS n, sum(size) OVER w AS upto
		FROM (SELECT event_id, type, created_at, payload, coalesce(payload_bytes, octet_length(payload::text)) AS size
			FROM events WHERE task_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3) page
		WINDOW w AS (ORDER BY event_id)
	) sized WHERE n = 1 OR upto <= $4 ORDER BY event_id`
)

// ReadAfter returns up to limit events with ids greater than after, in
// order, within maxBytes of payload when it is above 0 (the first event
// whatever its size), or ErrTaskNotFound. A limit of zero or less returns
// none.
func (s *Store) ReadAfter(ctx context.Context, taskID string, after uint64, limit, maxBytes int) (_ []taskbridge.Event, err error) {
	defer unavailable(&err)
	events := []taskbridge.Event{}
	// Ids are below 2^63; a cursor beyond has nothing after it.
	if limit > 0 && after < math.MaxInt64 {
		var rows pgx.Rows
		if maxBytes > 0 {
			rows, _ = s.pool.Query(ctx, readBytesSQL, taskID, int64(after), limit, maxBytes)
		} else {
			rows, _ = s.pool.Query(ctx, readSQL, taskID, int64(after), limit)
		}
		events, err = pgx.AppendRows(events, rows, func(row pgx.CollectableRow) (taskbridge.Event, error) {
			e := taskbridge.Event{TaskID: taskID}
			var id int64
			var typ string
			err := row.Scan(&id, &typ, &e.CreatedAt, &e.Payload)
			e.ID, e.Type, e.CreatedAt = uint64(id), taskbridge.EventType(typ), e.CreatedAt.UTC()
			return e, err
		})
		if err != nil {
			return nil, fmt.Errorf("postgres: read task %q: %w", taskID, err)
		}
	}
	if len(events) == 0 {
		// Nothing after the cursor: the task may be missing.
		if err := requireTask(ctx, s.pool, taskID); err != nil {
			return nil, err
		}
	}
	return events, nil
}
