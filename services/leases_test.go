package services_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/services"
)

// leaseLog is a LeaseStore that records the calls of one Leases and
// answers as told: a unit-test fake; the PostgreSQL store's leases are
// tested by storetest and, end to end, by the example host.
type leaseLog struct {
	mu       sync.Mutex
	clock    time.Time
	down     bool
	renewals []renewal
	claims   []time.Time // expiredBefore of each claim
	lost     []string    // what claims return
}

type renewal struct {
	ttl             time.Duration
	taken, released []string
	at              time.Time
}

func (s *leaseLog) RenewLease(_ context.Context, _ string, ttl time.Duration, taken, released []string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return time.Time{}, taskbridge.ErrUnavailable
	}
	s.clock = s.clock.Add(time.Second)
	slices.Sort(taken)
	slices.Sort(released)
	s.renewals = append(s.renewals, renewal{ttl, taken, released, s.clock})
	return s.clock, nil
}

func (s *leaseLog) ClaimLostTasks(_ context.Context, _ string, before time.Time, _ time.Duration, _ int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = append(s.claims, before)
	return s.lost, nil
}

func TestLeasesRenewWithWhatChangedAndEndLostTasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	lost, done := f.create(t, "lost"), f.create(t, "done")
	require.NoError(t, f.reporter.Start(t.Context(), lost, ""))
	require.NoError(t, f.reporter.Complete(t.Context(), done, nil))

	store := &leaseLog{clock: time.Unix(1000, 0)}
	var held []string
	l := &services.Leases{Store: store, Reporter: f.reporter, Holder: "me", Held: func() []string { return slices.Clone(held) }, Lease: 30 * time.Second}
	held = []string{"a", "b"}
	require.Zero(t, l.Pass(t.Context()))
	require.Empty(t, store.claims, "no claim before a second renewal")

	held = []string{"b", "c"}
	store.lost = []string{lost, done}
	require.Equal(t, 1, l.Pass(t.Context()), "the live lost task was ended")
	require.Equal(t, []renewal{
		{20 * time.Second, []string{"a", "b"}, nil, time.Unix(1001, 0)},
		{20 * time.Second, []string{"c"}, []string{"a"}, time.Unix(1002, 0)},
	}, store.renewals, "the lease lasts two thirds of Lease; each renewal sends what changed")
	require.Equal(t, []time.Time{time.Unix(1001, 0)}, store.claims, "leases expired by the previous renewal")
	task, err := f.store.GetTask(t.Context(), lost)
	require.NoError(t, err)
	require.Equal(t, taskbridge.StatusFailed, task.Status)
	events, err := f.store.ReadAfter(t.Context(), lost, task.LastEventID-1, 1, 0)
	require.NoError(t, err)
	require.JSONEq(t, `{"code":"EXECUTOR_LOST","message":"no executor runs this task any more","retryable":true}`, string(events[0].Payload))

	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	held = nil
	require.Zero(t, l.Pass(t.Context()))
	require.Len(t, store.claims, 1, "no claim after a failed renewal")
	store.mu.Lock()
	store.down = false
	store.mu.Unlock()
	l.Pass(t.Context())
	require.Equal(t, renewal{20 * time.Second, nil, []string{"b", "c"}, time.Unix(1003, 0)}, store.renewals[2],
		"what a failed renewal did not send is sent by the next")
}

// Run stops with its ctx, and lets go of what the executor dropped.
func TestLeasesRunLetsGoAtTheEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	store := &leaseLog{clock: time.Unix(1000, 0)}
	held := []string{"a"}
	var mu sync.Mutex
	l := &services.Leases{Store: store, Reporter: f.reporter, Holder: "me", Held: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(held)
	}}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error)
	go func() { ran <- l.Run(ctx) }()
	for {
		store.mu.Lock()
		n := len(store.renewals)
		store.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	held = nil
	mu.Unlock()
	cancel()
	require.True(t, errors.Is(<-ran, context.Canceled))
	store.mu.Lock()
	defer store.mu.Unlock()
	last := store.renewals[len(store.renewals)-1]
	require.Equal(t, []string{"a"}, last.released)
}
