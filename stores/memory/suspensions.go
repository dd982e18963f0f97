package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

func suspensionNotFound(taskID, suspendID string) error {
	return fmt.Errorf("suspension %q of task %q: %w", suspendID, taskID, taskbridge.ErrSuspensionNotFound)
}

// lockSuspension returns the locked record and its suspension, or
// ErrSuspensionNotFound (wrapping ErrTaskNotFound too when the task is
// missing).
func (s *Store) lockSuspension(taskID, suspendID string) (*record, *taskbridge.Suspension, error) {
	r, err := s.lock(taskID)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", suspensionNotFound(taskID, suspendID), err)
	}
	sp := r.suspensions[suspendID]
	if sp == nil {
		r.mu.Unlock()
		return nil, nil, suspensionNotFound(taskID, suspendID)
	}
	return r, sp, nil
}

// GetSuspension returns the suspension, or ErrSuspensionNotFound (which
// also wraps ErrTaskNotFound when the task is missing).
func (s *Store) GetSuspension(ctx context.Context, taskID, suspendID string) (taskbridge.Suspension, error) {
	r, sp, err := s.lockSuspension(taskID, suspendID)
	if err != nil {
		return taskbridge.Suspension{}, err
	}
	defer r.mu.Unlock()
	return cloneSuspension(*sp), nil
}

// OpenSuspensionOf returns the task's open suspension (the newest, should
// there be several), ok=false when it has none, or ErrTaskNotFound.
func (s *Store) OpenSuspensionOf(ctx context.Context, taskID string) (taskbridge.Suspension, bool, error) {
	r, err := s.lock(taskID)
	if err != nil {
		return taskbridge.Suspension{}, false, err
	}
	defer r.mu.Unlock()
	for i := len(r.opened) - 1; i >= 0; i-- {
		if sp := r.suspensions[r.opened[i]]; sp.State == taskbridge.SuspensionOpen {
			return cloneSuspension(*sp), true, nil
		}
	}
	return taskbridge.Suspension{}, false, nil
}

// expireLocked moves an open suspension to expired at now, pending hand-off;
// the caller holds the record's lock.
func (s *Store) expireLocked(taskID string, sp *taskbridge.Suspension, now time.Time) {
	sp.State = taskbridge.SuspensionExpired
	sp.ResolvedAt = now.UTC()
	k := suspKey{taskID, sp.SuspendID}
	s.idx.Lock()
	delete(s.expiring, k)
	s.pending[k] = sp.ResolvedAt
	s.idx.Unlock()
}

// indexKey is the key of a sweep index.
type indexKey interface {
	comparable
	parts() (string, string)
}

func (k suspKey) parts() (string, string)    { return k.taskID, k.suspendID }
func (k receiptKey) parts() (string, string) { return k.taskID, k.clientActionID }

// keyed is an index entry with its time, for sorting a sweep's candidates.
type keyed[K indexKey] struct {
	key K
	at  time.Time
}

// byTime returns the entries of m whose time keep accepts, oldest first.
func byTime[K indexKey](m map[K]time.Time, keep func(time.Time) bool) []keyed[K] {
	var out []keyed[K]
	for k, at := range m {
		if keep(at) {
			out = append(out, keyed[K]{k, at})
		}
	}
	slices.SortFunc(out, func(a, b keyed[K]) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		at, as := a.key.parts()
		bt, bs := b.key.parts()
		return cmp.Or(cmp.Compare(at, bt), cmp.Compare(as, bs))
	})
	return out
}

// ExpireSuspensions moves up to limit open suspensions whose ExpiresAt is at
// or before now to expired (ResolvedAt = now), pending hand-off, the most
// overdue first, and returns how many it moved.
func (s *Store) ExpireSuspensions(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	s.idx.Lock()
	cands := byTime(s.expiring, func(at time.Time) bool { return !now.Before(at) })
	s.idx.Unlock()
	n := 0
	for _, c := range cands {
		if n == limit {
			break
		}
		r, err := s.lock(c.key.taskID)
		if err != nil {
			continue
		}
		if sp := r.suspensions[c.key.suspendID]; sp != nil && sp.State == taskbridge.SuspensionOpen && sp.Expired(now) {
			s.expireLocked(c.key.taskID, sp, now)
			n++
		}
		r.mu.Unlock()
	}
	return n, nil
}

// PendingHandOffs returns up to limit resolved or expired suspensions whose
// outcome was not handed off yet, oldest ResolvedAt first.
func (s *Store) PendingHandOffs(ctx context.Context, limit int) ([]taskbridge.Suspension, error) {
	if limit <= 0 {
		return []taskbridge.Suspension{}, nil
	}
	s.idx.Lock()
	cands := byTime(s.pending, func(time.Time) bool { return true })
	s.idx.Unlock()
	out := []taskbridge.Suspension{}
	for _, c := range cands {
		if len(out) == limit {
			break
		}
		r, err := s.lock(c.key.taskID)
		if err != nil {
			continue
		}
		sp := r.suspensions[c.key.suspendID]
		if sp != nil && !sp.HandedOff && (sp.State == taskbridge.SuspensionResolved || sp.State == taskbridge.SuspensionExpired) {
			out = append(out, cloneSuspension(*sp))
		}
		r.mu.Unlock()
	}
	return out, nil
}

// MarkHandedOff records that the executor took the outcome of a resolved or
// expired suspension; from then on the receipt of its action may be pruned.
// It returns ErrSuspensionNotFound for an unknown suspension and nil, changing
// nothing, for a suspension with nothing to hand off or already handed off.
func (s *Store) MarkHandedOff(ctx context.Context, taskID, suspendID string) error {
	r, sp, err := s.lockSuspension(taskID, suspendID)
	if err != nil {
		return err
	}
	defer r.mu.Unlock()
	if sp.HandedOff || (sp.State != taskbridge.SuspensionResolved && sp.State != taskbridge.SuspensionExpired) {
		return nil
	}
	sp.HandedOff = true
	s.idx.Lock()
	defer s.idx.Unlock()
	delete(s.pending, suspKey{taskID, suspendID})
	if sp.Action != nil {
		if rc := r.receipts[sp.Action.ClientActionID]; rc != nil {
			s.prunable[receiptKey{taskID, rc.ClientActionID}] = rc.ReceivedAt
		}
	}
	return nil
}

// RecordAction judges the action and records its outcome in one step under
// the task's lock; see taskbridge.ActionReceiptStore. The receipt's
// ReceivedAt and the suspension's ResolvedAt are a.Now (time.Now when zero).
func (s *Store) RecordAction(ctx context.Context, a taskbridge.ActionRequest) (taskbridge.ActionOutcome, error) {
	a = cloneRequest(a)
	if a.Now.IsZero() {
		a.Now = time.Now()
	}
	a.Now = a.Now.UTC()

	r, err := s.lock(a.TaskID)
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	out, err := s.recordLocked(r, a)
	r.mu.Unlock()
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	if out.Event != nil {
		s.announce(taskbridge.Announcement{TaskID: a.TaskID, EventID: out.Event.ID})
		ev := *out.Event
		ev.Payload = cloneRaw(ev.Payload)
		out.Event = &ev
	}
	if out.Receipt != nil {
		rc := cloneReceipt(*out.Receipt)
		out.Receipt = &rc
	}
	return out, nil
}

// recordLocked judges and applies an action; the caller holds r.mu. The
// outcome shares its receipt and event with the record.
func (s *Store) recordLocked(r *record, a taskbridge.ActionRequest) (taskbridge.ActionOutcome, error) {
	if rc := r.receipts[a.ClientActionID]; rc != nil {
		if err := rc.CheckRepeat(a); err != nil {
			return taskbridge.ActionOutcome{}, err
		}
		return taskbridge.ActionOutcome{Status: taskbridge.ActionDeduplicated, Receipt: rc}, nil
	}
	sp := r.suspensions[a.SuspendID]
	if sp == nil {
		return taskbridge.ActionOutcome{}, suspensionNotFound(a.TaskID, a.SuspendID)
	}
	status, err := sp.Judge(a)
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	if status != taskbridge.ActionAccepted {
		if status == taskbridge.ActionRejectedExpired && sp.State == taskbridge.SuspensionOpen {
			s.expireLocked(a.TaskID, sp, a.Now) // found overdue now
		}
		return taskbridge.ActionOutcome{Status: status}, nil
	}
	ev, err := s.appendLocked(r, taskbridge.EventActionAccepted, a.AcceptedEvent, "", nil)
	if err != nil {
		return taskbridge.ActionOutcome{}, err
	}
	rc := &taskbridge.ActionReceipt{ActionRequest: a, ReceivedAt: a.Now, EventID: ev.ID}
	r.receipts[a.ClientActionID] = rc
	sp.State = taskbridge.SuspensionResolved
	sp.ResolvedAt = a.Now
	sp.Action = rc
	s.idx.Lock()
	delete(s.expiring, suspKey{a.TaskID, a.SuspendID})
	s.pending[suspKey{a.TaskID, a.SuspendID}] = a.Now
	s.idx.Unlock()
	return taskbridge.ActionOutcome{Status: taskbridge.ActionAccepted, Receipt: rc, Event: &ev}, nil
}

// PruneReceipts removes up to limit receipts received before the given time
// whose hand-off is done, oldest first, and returns how many it removed.
func (s *Store) PruneReceipts(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	s.idx.Lock()
	cands := byTime(s.prunable, func(at time.Time) bool { return at.Before(before) })
	s.idx.Unlock()
	n := 0
	for _, c := range cands {
		if n == limit {
			break
		}
		r, err := s.lock(c.key.taskID)
		if err != nil {
			continue
		}
		if rc := r.receipts[c.key.clientActionID]; rc != nil && rc.ReceivedAt.Before(before) {
			delete(r.receipts, c.key.clientActionID)
			s.idx.Lock()
			delete(s.prunable, c.key)
			s.idx.Unlock()
			n++
		}
		r.mu.Unlock()
	}
	return n, nil
}
