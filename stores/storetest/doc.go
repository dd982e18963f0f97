// Package storetest is the conformance suite of taskbridge.Store: every
// store of this module passes it, and so must any other implementation of
// the storage ports. It is an ordinary package so that stores outside this
// module can run it too.
//
// # Use
//
// A store's test calls Run with a Factory that makes a fresh, isolated store
// for each case:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) taskbridge.Store {
//			return memory.New()
//		}, storetest.Features{})
//	}
//
// A store on a shared server isolates each store it makes with a unique
// schema, key prefix or database and drops it with t.Cleanup. Every case
// also uses ids of its own, so stores may share one backend, but the sweeps
// (ExpireSuspensions, PendingHandOffs, PruneReceipts, DeleteEndedBefore) are
// asserted by count and need the isolation.
//
// # What it checks
//
// The contract in the doc comments of the root package's ports and domain
// types, case by case: creation and its idempotency (including concurrent
// identical creates), event ids and replay after a cursor, concurrent
// appends, status transitions, what a task keeps for its snapshot (its
// latest progress and its outcome), cancellation, suspensions, actions and
// their idempotency (including races), expiry, hand-offs, receipt pruning,
// retention, append announcements, and that the store does not alias the
// memory of its callers. Most cases run in parallel with each other; the
// races (many goroutines against one task) run first, one at a time, so that
// their calls overlap on few CPUs too. Run it with -race.
//
// # Time
//
// The suite asserts nothing about how long anything takes. Waits (for an
// announcement, say) are bounded by a generous guard that only turns a hang
// into a failure. Times the suite hands a store are whole milliseconds in
// UTC, so that a backend with millisecond precision keeps them exactly;
// times a store stamps must be in UTC and must not decrease within a task.
package storetest
