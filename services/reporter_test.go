package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// flakyStore is a memory store whose appends fail as unavailable while
// outage counts down; with committing set, each failed append is stored
// first, as when the connection is lost during the commit.
type flakyStore struct {
	*memory.Store
	mu         sync.Mutex
	outage     int
	committing bool
}

func (s *flakyStore) Append(ctx context.Context, taskID string, a taskbridge.Append) (taskbridge.Event, error) {
	s.mu.Lock()
	down := s.outage > 0
	if down {
		s.outage--
	}
	s.mu.Unlock()
	if !down {
		return s.Store.Append(ctx, taskID, a)
	}
	if s.committing {
		if _, err := s.Store.Append(ctx, taskID, a); err != nil {
			return taskbridge.Event{}, err
		}
	}
	return taskbridge.Event{}, errors.Join(errors.New("connection lost"), taskbridge.ErrUnavailable)
}

func (s *flakyStore) down(n int, committing bool) {
	s.mu.Lock()
	s.outage, s.committing = n, committing
	s.mu.Unlock()
}

func newTask() taskbridge.NewTask {
	return taskbridge.NewTask{ID: "t1", Owner: "o", ClientRequestID: "r", Type: "job", Fingerprint: "f", CreatedAt: time.Now()}
}

// A report that meets an unavailable store is retried until it lands, and
// lands once, also when the failed tries were committed.
func TestReporterRetriesUntilTheReportLandsOnce(t *testing.T) {
	t.Parallel()
	for name, committing := range map[string]bool{"not committed": false, "committed": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := &flakyStore{Store: memory.New()}
			rep, err := services.NewReporter(services.ReporterConfig{Store: store})
			require.NoError(t, err)
			ctx := t.Context()
			task, _, err := store.CreateTask(ctx, newTask())
			require.NoError(t, err)

			store.down(3, committing)
			require.NoError(t, rep.Start(ctx, task.ID, ""))
			store.down(3, committing)
			require.NoError(t, rep.Progress(ctx, task.ID, taskbridge.Progress{Percent: 50}))
			store.down(3, committing)
			_, err = rep.Suspend(ctx, task.ID, taskbridge.SuspendRequest{SuspendID: "s", ReasonCode: "R", AllowedActions: []string{"ok"}})
			require.NoError(t, err)
			store.down(3, committing)
			require.NoError(t, rep.Complete(ctx, task.ID, nil))

			events, err := store.ReadAfter(ctx, task.ID, 0, 100, 0)
			require.NoError(t, err)
			var types []taskbridge.EventType
			for _, ev := range events {
				types = append(types, ev.Type)
			}
			require.Equal(t, []taskbridge.EventType{
				taskbridge.EventStarted, taskbridge.EventProgress, taskbridge.EventSuspended, taskbridge.EventCompleted,
			}, types, "each report once, in order")
		})
	}
}

// A report is not retried past its context, nor at all when RetryFor is
// negative: the store's error comes back.
func TestReporterRetriesNoLongerThanAllowed(t *testing.T) {
	t.Parallel()
	store := &flakyStore{Store: memory.New()}
	task, _, err := store.CreateTask(t.Context(), newTask())
	require.NoError(t, err)

	once, err := services.NewReporter(services.ReporterConfig{Store: store, RetryFor: -1})
	require.NoError(t, err)
	store.down(1, false)
	require.ErrorIs(t, once.Start(t.Context(), task.ID, ""), taskbridge.ErrUnavailable)

	patient, err := services.NewReporter(services.ReporterConfig{Store: store})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	store.down(1, false)
	require.ErrorIs(t, patient.Start(ctx, task.ID, ""), taskbridge.ErrUnavailable, "no retry after ctx ended")
	require.NoError(t, patient.Start(t.Context(), task.ID, ""), "the store is back")
}

// A report whose payload is over MaxEventBytes is refused, and nothing is
// stored; one within it is stored.
func TestReporterRefusesEventsOverTheSizeLimit(t *testing.T) {
	t.Parallel()
	store := memory.New()
	rep, err := services.NewReporter(services.ReporterConfig{Store: store, MaxEventBytes: 64})
	require.NoError(t, err)
	ctx := t.Context()
	task, _, err := store.CreateTask(ctx, newTask())
	require.NoError(t, err)
	require.NoError(t, rep.Start(ctx, task.ID, ""))

	var invalid *taskbridge.InvalidInputError
	require.ErrorAs(t, rep.Message(ctx, task.ID, taskbridge.Message{Text: strings.Repeat("x", 64)}), &invalid)
	require.Contains(t, invalid.Reason, "over the 64")
	require.ErrorAs(t, rep.Complete(ctx, task.ID, json.RawMessage(`"`+strings.Repeat("x", 64)+`"`)), &invalid)
	require.NoError(t, rep.Message(ctx, task.ID, taskbridge.Message{Text: "short"}))
	events, err := store.ReadAfter(ctx, task.ID, 0, 10, 0)
	require.NoError(t, err)
	require.Len(t, events, 2, "TASK_STARTED and the short message only")
}

// A report repeated with its key (a retried activity of a durable engine,
// say) stores its event once, also once the task ended.
func TestReporterStoresAKeyedReportOnce(t *testing.T) {
	t.Parallel()
	store := memory.New()
	rep, err := services.NewReporter(services.ReporterConfig{Store: store})
	require.NoError(t, err)
	ctx := t.Context()
	task, _, err := store.CreateTask(ctx, newTask())
	require.NoError(t, err)
	keyed := func(n string) context.Context { return taskbridge.WithReportKey(ctx, "run-1/"+n) }

	for range 2 {
		require.NoError(t, rep.Start(keyed("0"), task.ID, ""))
		require.NoError(t, rep.Progress(keyed("1"), task.ID, taskbridge.Progress{Percent: 50}))
		s, err := rep.Suspend(keyed("2"), task.ID, taskbridge.SuspendRequest{SuspendID: "s-2", ReasonCode: "R", AllowedActions: []string{"ok"}})
		require.NoError(t, err)
		require.Equal(t, "s-2", s.SuspendID)
		require.NoError(t, rep.Complete(keyed("3"), task.ID, json.RawMessage(`{"ok":true}`)))
	}
	events, err := store.ReadAfter(ctx, task.ID, 0, 100, 0)
	require.NoError(t, err)
	require.Len(t, events, 4, "each keyed report once")
	require.ErrorIs(t, rep.Progress(ctx, task.ID, taskbridge.Progress{Percent: 60}), taskbridge.ErrTaskEnded, "an unkeyed report after the end is refused")
}
