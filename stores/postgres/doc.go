// Package postgres is a taskbridge.Store on PostgreSQL (pgx/v5), for hosts
// that run several stateless replicas over one database: any replica may
// create, append, stream, poll or answer, and one that dies loses nothing.
//
//	store, err := postgres.Open(postgres.Config{URL: "postgres://app@db/app"})
//	...
//	defer store.Close()
//	if _, err := store.Migrate(ctx); err != nil { ... } // a host retries until the database is up
//
// # Schema
//
// The tables live in Config.Schema ("taskbridge" by default), which Migrate
// creates and brings to the newest version embedded in the binary
// (migrations/NNNN_*.sql), in one transaction under an advisory lock, so
// replicas that start together apply each version once. Open does not
// connect; Check, the store's readiness probe, reports a database that is
// down or a schema not migrated yet.
//
// # Consistency
//
// Every rule of the ports holds across processes, through the database:
//
//   - An append is one statement that increments the task's counter row
//     under its row lock and inserts the event, so eventIds are dense and
//     strictly increasing per task however many replicas append, and no
//     rolled-back sequence leaves a gap. The status move, the suspension it
//     opens or the open ones a terminal event closes, and what the task
//     keeps for its snapshot (its latest progress, its outcome) go in the
//     same statement.
//   - Appends waiting at the same moment, to any tasks, are sent as one
//     pipelined batch that commits as one transaction (group commit): a
//     transaction that NOTIFYs holds a cluster-wide lock through its
//     commit, so one transaction per append would never share a commit.
//     Each event still NOTIFYs in the transaction that stores it, and an
//     append that fails in a batch is made again alone, so its error is its
//     own and the others are stored.
//   - Create is idempotent through the unique key (owner,
//     client_request_id): concurrent identical creates make one task.
//   - An action is judged and recorded in one transaction that holds the
//     task's row lock: receipt, resolved suspension and TASK_ACTION_ACCEPTED
//     commit together or not at all.
//   - The sweeps take their rows with FOR UPDATE SKIP LOCKED, so the
//     replicas' background passes share the work. Each reads a partial index
//     that holds only its candidates. Retention deletes a task row and the
//     rest goes with it (ON DELETE CASCADE); a live task is never touched.
//
// # Leases
//
// The store keeps executor leases (taskbridge.LeaseStore): a row per
// process in executor_leases, renewed with the database's clock, and on
// each task the name of the process that holds it. A claim takes the lost
// tasks (their holder's lease expired, or no one holds them) with FOR
// UPDATE SKIP LOCKED, so concurrent claims never take one task twice, and
// forgets the expired leases that hold no live task any more.
//
// # Idempotent appends
//
// An append with a Key stores it with the event (report_key, unique per
// task). When the append is refused or collides, the event of that Key is
// looked up and returned, so a report retried after a lost commit is
// stored once.
//
// # Announcements
//
// An append notifies the channel "<schema>_appends" with "<taskId>
// <eventId>"; PostgreSQL delivers it at commit. WatchAppends holds one
// dedicated connection that LISTENs, so a process (its hub) needs one
// connection for every live reader together. When that connection is lost
// it reconnects with backoff and announces an empty TaskID, so that
// readers re-read from their cursors and an append made during the outage
// is still delivered.
//
// # Times
//
// Event CreatedAt, Task UpdatedAt and EndedAt come from the database's
// clock (one clock for every replica), never earlier than the task's
// previous event. Times a caller supplies are kept as given, in UTC, at the
// microsecond precision of timestamptz.
//
// # Choices the ports leave open
//
// The same as the memory store's: a limit of zero or less does nothing; a
// task ID taken by another request fails the create; a suspension needs a
// TASK_SUSPENDED event and a SuspendID; OpenSuspensionOf returns the newest
// open suspension; MarkHandedOff on a suspension with nothing to hand off
// returns nil. JSON (input, metadata, payloads) is kept in json columns and
// comes back byte for byte.
package postgres
