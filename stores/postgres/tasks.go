package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbridge-go/taskbridge"
)

// taskColumns are the columns scanTask reads, in its order.
const taskColumns = `id, owner, client_request_id, type, input, metadata, fingerprint,
	attachment_count, created_at, status, updated_at, ended_at, last_event_id,
	cancel_requested, cancel_reason, trace_parent, progress, outcome`

// scanTask reads a row of taskColumns; it says how many attachments the
// task has, for the caller to load.
func scanTask(row pgx.Row) (t taskbridge.Task, attachments int, err error) {
	var status string
	var ended *time.Time
	var last int64
	var fingerprint []byte
	err = row.Scan(&t.ID, &t.Owner, &t.ClientRequestID, &t.Type, &t.Input, &t.Metadata, &fingerprint,
		&attachments, &t.CreatedAt, &status, &t.UpdatedAt, &ended, &last,
		&t.CancelRequested, &t.CancelReason, &t.TraceParent, &t.Progress, &t.Outcome)
	t.Status, t.Fingerprint = taskbridge.TaskStatus(status), string(fingerprint)
	t.CreatedAt, t.UpdatedAt, t.EndedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC(), utc(ended)
	t.LastEventID = uint64(last)
	return t, attachments, err
}

// CreateTask creates the task, or returns the one created before with the
// same Owner and ClientRequestID (created=false) when the fingerprints match,
// and an *IdempotencyConflictError when they differ. The unique key on (owner,
// client_request_id) makes concurrent identical creates, from any number of
// processes, create one task. It fails when t.ID is empty or taken by
// another request.
func (s *Store) CreateTask(ctx context.Context, t taskbridge.NewTask) (_ taskbridge.Task, _ bool, err error) {
	defer unavailable(&err)
	if t.ID == "" {
		return taskbridge.Task{}, false, errors.New("postgres: a new task needs an ID")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	t.CreatedAt = t.CreatedAt.UTC()
	for {
		created, err := s.insertTask(ctx, t)
		if err != nil {
			return taskbridge.Task{}, false, err
		}
		if created {
			task, err := s.GetTask(ctx, t.ID)
			return task, err == nil, err
		}
		task, err := s.taskByRequest(ctx, t.Owner, t.ClientRequestID)
		if errors.Is(err, taskbridge.ErrTaskNotFound) {
			continue // removed by retention since the insert met it: try again
		}
		if err != nil {
			return taskbridge.Task{}, false, err
		}
		if err := task.CheckRepeat(t); err != nil {
			return taskbridge.Task{}, false, err
		}
		return task, false, nil
	}
}

// insertTask inserts the task with its attachments; created=false when
// another task holds its (owner, client_request_id).
func (s *Store) insertTask(ctx context.Context, t taskbridge.NewTask) (created bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO tasks (id, owner, client_request_id, type, input, metadata,
				fingerprint, attachment_count, created_at, status, updated_at, trace_parent)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, $11)
			ON CONFLICT (owner, client_request_id) DO NOTHING`,
			t.ID, t.Owner, t.ClientRequestID, t.Type, t.Input, t.Metadata,
			[]byte(t.Fingerprint), len(t.Attachments), t.CreatedAt, taskbridge.StatusAccepted, t.TraceParent)
		if uniqueViolation(err, "tasks_pkey") {
			return fmt.Errorf("postgres: task id %q is taken by another request", t.ID)
		}
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		created = true
		if len(t.Attachments) == 0 {
			return nil
		}
		rows := make([][]any, len(t.Attachments))
		for i, a := range t.Attachments {
			data := a.Data
			if data == nil {
				data = []byte{}
			}
			rows[i] = []any{t.ID, i, a.Field, a.Name, a.ContentType, data}
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"task_attachments"},
			[]string{"task_id", "position", "field", "name", "content_type", "data"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: create task %q: %w", t.ID, err)
	}
	return created, nil
}

// taskByRequest returns the task of an owner's client request.
func (s *Store) taskByRequest(ctx context.Context, owner, clientRequestID string) (taskbridge.Task, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM tasks WHERE owner = $1 AND client_request_id = $2`,
		owner, clientRequestID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return taskbridge.Task{}, fmt.Errorf("client request %q: %w", clientRequestID, taskbridge.ErrTaskNotFound)
	}
	if err != nil {
		return taskbridge.Task{}, fmt.Errorf("postgres: find client request %q: %w", clientRequestID, err)
	}
	return s.GetTask(ctx, id)
}

// GetTask returns the task with its attachments, or ErrTaskNotFound.
func (s *Store) GetTask(ctx context.Context, taskID string) (_ taskbridge.Task, err error) {
	defer unavailable(&err)
	t, n, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, taskID))
	if errors.Is(err, pgx.ErrNoRows) {
		return taskbridge.Task{}, taskNotFound(taskID)
	}
	if err != nil {
		return taskbridge.Task{}, fmt.Errorf("postgres: get task %q: %w", taskID, err)
	}
	if n > 0 {
		if t.Attachments, err = s.attachments(ctx, taskID); err != nil {
			return taskbridge.Task{}, err
		}
	}
	return t, nil
}

// attachments returns the task's attachments in upload order.
func (s *Store) attachments(ctx context.Context, taskID string) ([]taskbridge.Attachment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT field, name, content_type, data FROM task_attachments
		WHERE task_id = $1 ORDER BY position`, taskID)
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (taskbridge.Attachment, error) {
		var a taskbridge.Attachment
		err := row.Scan(&a.Field, &a.Name, &a.ContentType, &a.Data)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: attachments of task %q: %w", taskID, err)
	}
	return as, nil
}

// RequestCancel records the first cancel request of a live task and its
// reason; repeats and ended tasks are left as they are. It returns the task
// as it is afterwards, or ErrTaskNotFound.
func (s *Store) RequestCancel(ctx context.Context, taskID, reason string) (_ taskbridge.Task, err error) {
	defer unavailable(&err)
	_, err = s.pool.Exec(ctx, `UPDATE tasks SET cancel_requested = true, cancel_reason = $2
		WHERE id = $1 AND NOT cancel_requested AND ended_at IS NULL`, taskID, reason)
	if err != nil {
		return taskbridge.Task{}, fmt.Errorf("postgres: cancel task %q: %w", taskID, err)
	}
	return s.GetTask(ctx, taskID)
}

// DeleteEndedBefore removes up to limit tasks that ended before the given
// time, oldest first, whole: their events, suspensions, receipts and
// attachments go with them (ON DELETE CASCADE). A live task is never
// touched, and the owner's ClientRequestID of a removed task may be used
// again. Concurrent sweeps from several replicas skip each other's rows.
func (s *Store) DeleteEndedBefore(ctx context.Context, before time.Time, limit int) (_ int, err error) {
	defer unavailable(&err)
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM tasks WHERE id IN (
			SELECT id FROM tasks WHERE ended_at < $1
			ORDER BY ended_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete ended tasks: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
