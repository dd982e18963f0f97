package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

var _ taskbridge.Store = (*Store)(nil)

// Store keeps everything in the memory of the process. Create one with New;
// the zero value is not usable. All methods are safe for concurrent use.
type Store struct {
	// mu guards tasks and keys. Lock order: mu, then a record's mu, then idx.
	mu    sync.RWMutex
	tasks map[string]*record
	keys  map[requestKey]string

	// idx guards the indexes the sweeps read, so that they never scan every
	// task. An entry is a hint: the sweep re-checks it under the record's lock.
	idx      sync.Mutex
	ended    map[string]time.Time     // ended tasks, by EndedAt
	expiring map[suspKey]time.Time    // open suspensions with an ExpiresAt
	pending  map[suspKey]time.Time    // resolved or expired, not handed off, by ResolvedAt
	prunable map[receiptKey]time.Time // receipts whose hand-off is done, by ReceivedAt

	watchMu  sync.RWMutex
	watchers map[*watcher]struct{}
}

type requestKey struct{ owner, clientRequestID string }

type suspKey struct{ taskID, suspendID string }

type receiptKey struct{ taskID, clientActionID string }

// record is one task with everything that belongs to it, guarded by mu.
type record struct {
	mu sync.Mutex
	// deleted is set when DeleteEndedBefore removed the task; whoever locked
	// the record after finding it in the map answers ErrTaskNotFound.
	deleted     bool
	task        taskbridge.Task
	events      eventLog
	suspensions map[string]*taskbridge.Suspension
	// opened lists the suspension ids in the order they opened.
	opened   []string
	receipts map[string]*taskbridge.ActionReceipt
	// keys maps the Keys of keyed appends to their event ids; nil until
	// the first one.
	keys map[string]uint64
}

// New returns an empty store.
func New() *Store {
	return &Store{
		tasks:    map[string]*record{},
		keys:     map[requestKey]string{},
		ended:    map[string]time.Time{},
		expiring: map[suspKey]time.Time{},
		pending:  map[suspKey]time.Time{},
		prunable: map[receiptKey]time.Time{},
		watchers: map[*watcher]struct{}{},
	}
}

func taskNotFound(taskID string) error {
	return fmt.Errorf("task %q: %w", taskID, taskbridge.ErrTaskNotFound)
}

// lock finds the task and returns its record locked, or ErrTaskNotFound.
func (s *Store) lock(taskID string) (*record, error) {
	s.mu.RLock()
	r := s.tasks[taskID]
	s.mu.RUnlock()
	if r == nil {
		return nil, taskNotFound(taskID)
	}
	r.mu.Lock()
	if r.deleted {
		r.mu.Unlock()
		return nil, taskNotFound(taskID)
	}
	return r, nil
}

// CreateTask creates the task, or returns the one created before with the
// same Owner and ClientRequestID (created=false) when the fingerprints
// match, and an *IdempotencyConflictError when they differ. It fails when t.ID is
// empty or already names another task.
func (s *Store) CreateTask(ctx context.Context, t taskbridge.NewTask) (taskbridge.Task, bool, error) {
	if t.ID == "" {
		return taskbridge.Task{}, false, errors.New("memory: a new task needs an ID")
	}
	key := requestKey{t.Owner, t.ClientRequestID}
	s.mu.RLock()
	if id, ok := s.keys[key]; ok {
		task, err := s.tasks[id].existing(t)
		s.mu.RUnlock()
		return task, false, err
	}
	s.mu.RUnlock()

	r := newRecord(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.keys[key]; ok {
		task, err := s.tasks[id].existing(t)
		return task, false, err
	}
	if _, taken := s.tasks[t.ID]; taken {
		return taskbridge.Task{}, false, fmt.Errorf("memory: task id %q is taken by another request", t.ID)
	}
	s.tasks[t.ID] = r
	s.keys[key] = t.ID
	return cloneTask(r.task), true, nil
}

func newRecord(t taskbridge.NewTask) *record {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	t.CreatedAt = t.CreatedAt.UTC()
	task := cloneTask(taskbridge.Task{NewTask: t})
	task.Status = taskbridge.StatusAccepted
	task.UpdatedAt = task.CreatedAt
	return &record{
		task:        task,
		suspensions: map[string]*taskbridge.Suspension{},
		receipts:    map[string]*taskbridge.ActionReceipt{},
	}
}

// existing judges a create that found r under its key; the caller holds
// Store.mu, so r cannot be deleted meanwhile.
func (r *record) existing(t taskbridge.NewTask) (taskbridge.Task, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.task.CheckRepeat(t); err != nil {
		return taskbridge.Task{}, err
	}
	return cloneTask(r.task), nil
}

// GetTask returns the task, or ErrTaskNotFound.
func (s *Store) GetTask(ctx context.Context, taskID string) (taskbridge.Task, error) {
	r, err := s.lock(taskID)
	if err != nil {
		return taskbridge.Task{}, err
	}
	defer r.mu.Unlock()
	return cloneTask(r.task), nil
}

// RequestCancel records the first cancel request of a live task and its
// reason; repeats and ended tasks are left as they are. It returns the task
// as it is afterwards, or ErrTaskNotFound.
func (s *Store) RequestCancel(ctx context.Context, taskID, reason string) (taskbridge.Task, error) {
	r, err := s.lock(taskID)
	if err != nil {
		return taskbridge.Task{}, err
	}
	defer r.mu.Unlock()
	if !r.task.Status.IsTerminal() && !r.task.CancelRequested {
		r.task.CancelRequested = true
		r.task.CancelReason = reason
	}
	return cloneTask(r.task), nil
}

// DeleteEndedBefore removes up to limit tasks whose EndedAt is before the
// given time, oldest first, with their events, suspensions and receipts, and
// returns how many it removed. A live task is never touched; the owner's
// ClientRequestID of a removed task may be used again.
func (s *Store) DeleteEndedBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	type candidate struct {
		id string
		at time.Time
	}
	var cands []candidate
	s.idx.Lock()
	for id, at := range s.ended {
		if at.Before(before) {
			cands = append(cands, candidate{id, at})
		}
	}
	s.idx.Unlock()
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id))
	})

	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range cands {
		if n == limit {
			break
		}
		r := s.tasks[c.id]
		if r == nil {
			continue
		}
		r.mu.Lock()
		if r.task.Status.IsTerminal() && r.task.EndedAt.Before(before) {
			s.removeLocked(r)
			n++
		}
		r.mu.Unlock()
	}
	return n, nil
}

// removeLocked drops the record and its index entries; the caller holds
// Store.mu for writing and r.mu.
func (s *Store) removeLocked(r *record) {
	id := r.task.ID
	delete(s.tasks, id)
	if key := (requestKey{r.task.Owner, r.task.ClientRequestID}); s.keys[key] == id {
		delete(s.keys, key)
	}
	s.idx.Lock()
	delete(s.ended, id)
	for sid := range r.suspensions {
		delete(s.expiring, suspKey{id, sid})
		delete(s.pending, suspKey{id, sid})
	}
	for aid := range r.receipts {
		delete(s.prunable, receiptKey{id, aid})
	}
	s.idx.Unlock()
	r.deleted = true
	r.events, r.suspensions, r.opened, r.receipts = eventLog{}, nil, nil, nil
}
