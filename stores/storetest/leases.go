package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

var leaseCases = []testCase{
	{name: "LeaseKeepsTheTasksOfALiveHolder", run: testLeaseKeepsTheTasksOfALiveHolder},
	{name: "ExpiredLeaseLosesItsTasks", run: testExpiredLeaseLosesItsTasks},
	{name: "UnheldTaskIsLostAfterTTL", run: testUnheldTaskIsLostAfterTTL},
	{name: "ClaimsNeverOverlap", run: testClaimsNeverOverlap, alone: true},
}

// leases returns the store's LeaseStore, or skips the case for a store
// that keeps none (one that no other process shares).
func (e *env) leases() taskbridge.LeaseStore {
	e.t.Helper()
	ls, ok := e.s.(taskbridge.LeaseStore)
	if !ok {
		e.t.Skip("the store keeps no leases (it is not a taskbridge.LeaseStore)")
	}
	return ls
}

// renew renews holder's lease and returns the store's time of it.
func (e *env) renew(holder string, ttl time.Duration, taken, released []string) time.Time {
	e.t.Helper()
	at, err := e.leases().RenewLease(e.ctx, e.prefix+holder, ttl, taken, released)
	require.NoError(e.t, err)
	requireStamped(e.t, at, "the renewal's time")
	return at
}

// claim claims lost tasks for holder.
func (e *env) claim(holder string, before time.Time, ttl time.Duration, limit int) []string {
	e.t.Helper()
	ids, err := e.leases().ClaimLostTasks(e.ctx, e.prefix+holder, before, ttl, limit)
	require.NoError(e.t, err)
	return ids
}

// oldTask creates a task an hour old and returns its id.
func (e *env) oldTask() string {
	e.t.Helper()
	spec := e.newTaskSpec()
	spec.CreatedAt = e.base.Add(-time.Hour)
	return e.create(spec).ID
}

func testLeaseKeepsTheTasksOfALiveHolder(t *testing.T, e *env) {
	old, fresh := e.oldTask(), e.newTask()
	e.renew("a", time.Hour, []string{old, fresh}, nil)
	at := e.renew("b", time.Hour, nil, nil)
	require.Empty(t, e.claim("b", at, time.Minute, 10), "a's lease holds")
	require.Empty(t, e.claim("a", at, time.Minute, 10), "a holder never claims its own tasks")
}

func testExpiredLeaseLosesItsTasks(t *testing.T, e *env) {
	t1, t2, ended := e.runningTask(), e.runningTask(), e.runningTask()
	e.renew("a", time.Microsecond, []string{t1, t2, ended}, nil) // then a dies
	e.add(ended, taskbridge.EventCompleted)
	at := e.renew("b", time.Hour, nil, nil)
	require.ElementsMatch(t, []string{t1, t2}, e.claim("b", at, time.Hour, 10), "a's live tasks")

	atC := e.renew("c", time.Hour, nil, nil)
	require.Empty(t, e.claim("c", atC, time.Hour, 10), "b holds them now, and lives")
	require.ElementsMatch(t, []string{t1, t2}, e.claim("b", at, time.Hour, 10), "b is given again what it has not ended")
	e.add(t1, taskbridge.EventFailed)
	require.Equal(t, []string{t2}, e.claim("b", at, time.Hour, 10))

	e.renew("a", time.Hour, []string{t2}, []string{t2}) // a comes back
	require.Equal(t, []string{t2}, e.claim("b", at, time.Hour, 10), "a neither takes nor lets go of what b claimed")
	require.Equal(t, []string{t2}, e.claim("b", at, time.Hour, 1), "within the limit")
}

func testUnheldTaskIsLostAfterTTL(t *testing.T, e *env) {
	never, fresh, released := e.oldTask(), e.newTask(), e.oldTask()
	e.renew("a", time.Hour, []string{released}, nil)
	at := e.renew("b", time.Hour, nil, nil)
	require.Equal(t, []string{never}, e.claim("b", at, time.Minute, 10),
		"taken by no one for longer than the ttl; the fresh one may still be")

	others := e.oldTask()
	e.renew("c", time.Hour, []string{others}, nil)
	e.renew("a", time.Hour, nil, []string{released, fresh, others}) // a's handler returned, but its end was not stored
	require.ElementsMatch(t, []string{never, released}, e.claim("b", at, time.Minute, 10),
		"a let go of it; a holder lets go only of what it holds")
	require.Empty(t, e.claim("c", at, time.Hour, 10), "fresh is younger than the ttl")
	require.Equal(t, []string{fresh}, e.claim("c", at.Add(time.Hour), time.Hour, 10))
}

func testClaimsNeverOverlap(t *testing.T, e *env) {
	var lost []string
	for range 30 {
		lost = append(lost, e.oldTask())
	}
	claimers := []string{"a", "b", "c"}
	var at time.Time
	for _, c := range claimers { // each claimer holds a lease, as a live one does
		at = e.renew(c, time.Hour, nil, nil)
	}
	claims := make([][]string, len(claimers))
	var wg sync.WaitGroup
	for i, c := range claimers {
		wg.Go(func() {
			ids, err := e.leases().ClaimLostTasks(e.ctx, e.prefix+c, at, time.Minute, len(lost))
			if err == nil {
				claims[i] = ids
			}
		})
	}
	wg.Wait()
	var all []string
	for _, ids := range claims {
		all = append(all, ids...)
	}
	require.ElementsMatch(t, lost, all, "every lost task claimed, by one claimer")
}
