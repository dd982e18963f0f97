package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbridge-go/taskbridge"
)

// suspensionColumns are the columns scanSuspension reads, in its order.
const suspensionColumns = `task_id, suspend_id, allowed_actions, expires_at, payload, created_at,
	state, resolved_at, action, handed_off`

func scanSuspension(row pgx.CollectableRow) (taskbridge.Suspension, error) {
	var sp taskbridge.Suspension
	var state string
	var expires, resolved *time.Time
	var action []byte
	err := row.Scan(&sp.TaskID, &sp.SuspendID, &sp.AllowedActions, &expires, &sp.Payload, &sp.CreatedAt,
		&state, &resolved, &action, &sp.HandedOff)
	if err != nil {
		return sp, err
	}
	sp.State = taskbridge.SuspensionState(state)
	sp.ExpiresAt, sp.ResolvedAt, sp.CreatedAt = utc(expires), utc(resolved), sp.CreatedAt.UTC()
	if action != nil {
		rc, err := decodeReceipt(action)
		if err != nil {
			return sp, err
		}
		sp.Action = &rc
	}
	return sp, nil
}

// storedReceipt is how an ActionReceipt is kept as JSON: its JSON fields as
// bytes, so that they come back exactly as they were given.
type storedReceipt struct {
	TaskID, ClientActionID, SuspendID, ActionType string
	Payload, Metadata, AcceptedEvent              []byte
	Fingerprint                                   string
	Now, ReceivedAt                               time.Time
	EventID                                       uint64
}

func encodeReceipt(rc taskbridge.ActionReceipt) ([]byte, error) {
	return json.Marshal(storedReceipt{
		TaskID: rc.TaskID, ClientActionID: rc.ClientActionID, SuspendID: rc.SuspendID, ActionType: rc.ActionType,
		Payload: rc.Payload, Metadata: rc.Metadata, AcceptedEvent: rc.AcceptedEvent,
		Fingerprint: rc.Fingerprint, Now: rc.Now, ReceivedAt: rc.ReceivedAt, EventID: rc.EventID,
	})
}

func decodeReceipt(b []byte) (taskbridge.ActionReceipt, error) {
	var s storedReceipt
	if err := json.Unmarshal(b, &s); err != nil {
		return taskbridge.ActionReceipt{}, fmt.Errorf("postgres: a stored receipt: %w", err)
	}
	return taskbridge.ActionReceipt{
		ActionRequest: taskbridge.ActionRequest{
			TaskID: s.TaskID, ClientActionID: s.ClientActionID, SuspendID: s.SuspendID, ActionType: s.ActionType,
			Payload: s.Payload, Metadata: s.Metadata, AcceptedEvent: s.AcceptedEvent,
			Fingerprint: s.Fingerprint, Now: s.Now.UTC(),
		},
		ReceivedAt: s.ReceivedAt.UTC(),
		EventID:    s.EventID,
	}, nil
}

// suspensionNotFound is ErrSuspensionNotFound, wrapping ErrTaskNotFound too
// when the task is missing.
func suspensionNotFound(ctx context.Context, q querier, taskID, suspendID string) error {
	err := fmt.Errorf("suspension %q of task %q: %w", suspendID, taskID, taskbridge.ErrSuspensionNotFound)
	switch missing := requireTask(ctx, q, taskID); {
	case errors.Is(missing, taskbridge.ErrTaskNotFound):
		return fmt.Errorf("%w: %w", err, missing)
	case missing != nil:
		return missing
	}
	return err
}

// GetSuspension returns the suspension, or ErrSuspensionNotFound (which
// also wraps ErrTaskNotFound when the task is missing).
func (s *Store) GetSuspension(ctx context.Context, taskID, suspendID string) (_ taskbridge.Suspension, err error) {
	defer unavailable(&err)
	rows, _ := s.pool.Query(ctx, `SELECT `+suspensionColumns+` FROM suspensions
		WHERE task_id = $1 AND suspend_id = $2`, taskID, suspendID)
	sp, err := pgx.CollectExactlyOneRow(rows, scanSuspension)
	if errors.Is(err, pgx.ErrNoRows) {
		return taskbridge.Suspension{}, suspensionNotFound(ctx, s.pool, taskID, suspendID)
	}
	if err != nil {
		return taskbridge.Suspension{}, fmt.Errorf("postgres: get suspension %q of task %q: %w", suspendID, taskID, err)
	}
	return sp, nil
}

// OpenSuspensionOf returns the task's open suspension (the newest, should
// there be several), ok=false when it has none, or ErrTaskNotFound.
func (s *Store) OpenSuspensionOf(ctx context.Context, taskID string) (_ taskbridge.Suspension, _ bool, err error) {
	defer unavailable(&err)
	rows, _ := s.pool.Query(ctx, `SELECT `+suspensionColumns+` FROM suspensions
		WHERE task_id = $1 AND state = 'open' ORDER BY opened_event_id DESC LIMIT 1`, taskID)
	sp, err := pgx.CollectExactlyOneRow(rows, scanSuspension)
	if err == nil {
		return sp, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return taskbridge.Suspension{}, false, fmt.Errorf("postgres: open suspension of task %q: %w", taskID, err)
	}
	if err := requireTask(ctx, s.pool, taskID); err != nil {
		return taskbridge.Suspension{}, false, err
	}
	return taskbridge.Suspension{}, false, nil
}

// ExpireSuspensions moves up to limit open suspensions whose ExpiresAt is at
// or before now to expired (ResolvedAt = now), pending hand-off, the most
// overdue first, and returns how many it moved. Concurrent sweeps skip each
// other's rows.
func (s *Store) ExpireSuspensions(ctx context.Context, now time.Time, limit int) (_ int, err error) {
	defer unavailable(&err)
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE suspensions AS s SET state = 'expired', resolved_at = $1
		FROM (SELECT task_id, suspend_id FROM suspensions
			WHERE state = 'open' AND expires_at <= $1
			ORDER BY expires_at, task_id, suspend_id LIMIT $2 FOR UPDATE SKIP LOCKED) AS due
		WHERE s.task_id = due.task_id AND s.suspend_id = due.suspend_id`, now.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: expire suspensions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// PendingHandOffs returns up to limit resolved or expired suspensions whose
// outcome was not handed off yet, oldest ResolvedAt first.
func (s *Store) PendingHandOffs(ctx context.Context, limit int) (_ []taskbridge.Suspension, err error) {
	defer unavailable(&err)
	if limit <= 0 {
		return []taskbridge.Suspension{}, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+suspensionColumns+` FROM suspensions
		WHERE state IN ('resolved', 'expired') AND NOT handed_off
		ORDER BY resolved_at, task_id, suspend_id LIMIT $1`, limit)
	out, err := pgx.AppendRows([]taskbridge.Suspension{}, rows, scanSuspension)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending hand-offs: %w", err)
	}
	return out, nil
}

// MarkHandedOff records that the executor took the outcome of a resolved or
// expired suspension; from then on the receipt of its action may be pruned.
// It returns ErrSuspensionNotFound for an unknown suspension and nil,
// changing nothing, for a suspension with nothing to hand off or already
// handed off.
func (s *Store) MarkHandedOff(ctx context.Context, taskID, suspendID string) (err error) {
	defer unavailable(&err)
	tag, err := s.pool.Exec(ctx, `WITH marked AS (
			UPDATE suspensions SET handed_off = true
			WHERE task_id = $1 AND suspend_id = $2 AND state IN ('resolved', 'expired') AND NOT handed_off
			RETURNING action_id
		)
		UPDATE action_receipts AS r SET handed_off = true FROM marked
		WHERE r.task_id = $1 AND r.client_action_id = marked.action_id`, taskID, suspendID)
	if err != nil {
		return fmt.Errorf("postgres: mark hand-off of suspension %q of task %q: %w", suspendID, taskID, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	// Nothing changed: an expiry, nothing to hand off, or no such suspension.
	_, err = s.GetSuspension(ctx, taskID, suspendID)
	return err
}

// RecordAction judges the action and records its outcome in one
// transaction that holds the task's row lock, so that it is serialized with
// the task's appends and other actions from every process; see
// taskbridge.ActionReceiptStore. The receipt's ReceivedAt and the
// suspension's ResolvedAt are a.Now (time.Now when zero).
func (s *Store) RecordAction(ctx context.Context, a taskbridge.ActionRequest) (_ taskbridge.ActionOutcome, err error) {
	defer unavailable(&err)
	if a.Now.IsZero() {
		a.Now = time.Now()
	}
	a.Now = a.Now.UTC()
	var out taskbridge.ActionOutcome
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.recordIn(ctx, tx, a)
		return err
	})
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	return out, nil
}

// recordIn judges and applies the action in tx.
func (s *Store) recordIn(ctx context.Context, tx pgx.Tx, a taskbridge.ActionRequest) (taskbridge.ActionOutcome, error) {
	none := taskbridge.ActionOutcome{}
	locked, err := tx.Exec(ctx, `SELECT FROM tasks WHERE id = $1 FOR UPDATE`, a.TaskID)
	if err != nil {
		return none, fmt.Errorf("postgres: lock task %q: %w", a.TaskID, err)
	}
	if locked.RowsAffected() == 0 {
		return none, taskNotFound(a.TaskID)
	}
	var fingerprint, stored []byte
	err = tx.QueryRow(ctx, `SELECT fingerprint, receipt FROM action_receipts
		WHERE task_id = $1 AND client_action_id = $2`, a.TaskID, a.ClientActionID).Scan(&fingerprint, &stored)
	switch {
	case err == nil:
		return repeated(fingerprint, stored, a)
	case !errors.Is(err, pgx.ErrNoRows):
		return none, fmt.Errorf("postgres: find action %q of task %q: %w", a.ClientActionID, a.TaskID, err)
	}

	rows, _ := tx.Query(ctx, `SELECT `+suspensionColumns+` FROM suspensions
		WHERE task_id = $1 AND suspend_id = $2 FOR UPDATE`, a.TaskID, a.SuspendID)
	sp, err := pgx.CollectExactlyOneRow(rows, scanSuspension)
	if errors.Is(err, pgx.ErrNoRows) {
		return none, fmt.Errorf("suspension %q of task %q: %w", a.SuspendID, a.TaskID, taskbridge.ErrSuspensionNotFound)
	}
	if err != nil {
		return none, fmt.Errorf("postgres: find suspension %q of task %q: %w", a.SuspendID, a.TaskID, err)
	}
	status, err := sp.Judge(a)
	switch {
	case err != nil:
		return none, err
	case status == taskbridge.ActionRejectedExpired && sp.State == taskbridge.SuspensionOpen:
		return expireNow(ctx, tx, a) // found overdue now
	case status != taskbridge.ActionAccepted:
		return taskbridge.ActionOutcome{Status: status}, nil
	}
	return s.accept(ctx, tx, a)
}

// repeated judges an action whose clientActionId the stored receipt holds,
// by the fingerprint its column keeps byte for byte.
func repeated(fingerprint, stored []byte, a taskbridge.ActionRequest) (taskbridge.ActionOutcome, error) {
	rc, err := decodeReceipt(stored)
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	rc.Fingerprint = string(fingerprint)
	if err := rc.CheckRepeat(a); err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	return taskbridge.ActionOutcome{Status: taskbridge.ActionDeduplicated, Receipt: &rc}, nil
}

// expireNow records an open suspension that an action found overdue as
// expired, in tx, and rejects the action.
func expireNow(ctx context.Context, tx pgx.Tx, a taskbridge.ActionRequest) (taskbridge.ActionOutcome, error) {
	_, err := tx.Exec(ctx, `UPDATE suspensions SET state = 'expired', resolved_at = $3
		WHERE task_id = $1 AND suspend_id = $2`, a.TaskID, a.SuspendID, a.Now)
	if err != nil {
		return taskbridge.ActionOutcome{}, fmt.Errorf("postgres: expire suspension %q of task %q: %w", a.SuspendID, a.TaskID, err)
	}
	return taskbridge.ActionOutcome{Status: taskbridge.ActionRejectedExpired}, nil
}

// accept appends TASK_ACTION_ACCEPTED, stores the receipt and resolves the
// suspension, in tx.
func (s *Store) accept(ctx context.Context, tx pgx.Tx, a taskbridge.ActionRequest) (taskbridge.ActionOutcome, error) {
	ev, err := s.appendWith(ctx, tx, a.TaskID, taskbridge.Append{Type: taskbridge.EventActionAccepted, Payload: a.AcceptedEvent})
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	rc := taskbridge.ActionReceipt{ActionRequest: a, ReceivedAt: a.Now, EventID: ev.ID}
	stored, err := encodeReceipt(rc)
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO action_receipts (task_id, client_action_id, fingerprint, received_at, receipt)
		VALUES ($1, $2, $3, $4, $5)`, a.TaskID, a.ClientActionID, []byte(a.Fingerprint), a.Now, stored)
	if err == nil {
		_, err = tx.Exec(ctx, `UPDATE suspensions SET state = 'resolved', resolved_at = $3, action = $4, action_id = $5
			WHERE task_id = $1 AND suspend_id = $2`, a.TaskID, a.SuspendID, a.Now, stored, a.ClientActionID)
	}
	if err != nil {
		return taskbridge.ActionOutcome{}, fmt.Errorf("postgres: accept action %q of task %q: %w", a.ClientActionID, a.TaskID, err)
	}
	return taskbridge.ActionOutcome{Status: taskbridge.ActionAccepted, Receipt: &rc, Event: &ev}, nil
}

// PruneReceipts removes up to limit receipts received before the given time
// whose hand-off is done, oldest first, and returns how many it removed.
func (s *Store) PruneReceipts(ctx context.Context, before time.Time, limit int) (_ int, err error) {
	defer unavailable(&err)
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM action_receipts WHERE (task_id, client_action_id) IN (
			SELECT task_id, client_action_id FROM action_receipts
			WHERE handed_off AND received_at < $1
			ORDER BY received_at, task_id, client_action_id LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune receipts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
