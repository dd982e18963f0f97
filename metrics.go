package taskbridge

import "time"

// Metrics receives counts and timings of what a bridge does, for a host's
// monitoring (package prommetrics exports them to Prometheus). It hears the
// life of every stream as Diagnostics do. Labels it is given are bounded:
// never a task id or a subject.
//
// Implementations must be safe for concurrent use and must not block; they
// should not allocate either, since EventsDelivered is called for every
// write of every stream.
type Metrics interface {
	Diagnostics
	// TaskCreated counts a create; deduplicated when it found an earlier
	// task.
	TaskCreated(taskType string, deduplicated bool)
	// TaskEnded counts a task that reached its terminal status; code is the
	// failure's code for StatusFailed, "" otherwise.
	TaskEnded(status TaskStatus, code string)
	// EventAppended counts an appended event.
	EventAppended(t EventType)
	// StoreCall times one call of the store named store ("memory",
	// "postgres", ...): op is StoreAppend or StoreRead.
	StoreCall(store string, op StoreOp, d time.Duration, failed bool)
	// RequestFailed counts a request answered with an error code;
	// operation is the route's path pattern.
	RequestFailed(operation, code string)
	// PollAnswered counts a long poll answered, and why it was answered.
	PollAnswered(outcome PollOutcome)
	// ActionAnswered counts an action by outcome: its ActionStatus when it
	// was taken (ACCEPTED, DEDUPLICATED), else the error code it was
	// refused with.
	ActionAnswered(outcome string)
	// EventsDelivered observes the live events one write of a stream
	// delivered: lags holds, for each, the time from its append to the
	// write. transport is "sse" or "websocket". lags is the caller's and
	// only valid during the call. A batch, rather than a call per event,
	// because a busy host delivers millions of events a second.
	EventsDelivered(transport string, lags []time.Duration)
	// HeartbeatSent counts a heartbeat a stream wrote.
	HeartbeatSent(transport string)
	// HubRead counts a read of a stream's events: from the hub's cache, or
	// from the store.
	HubRead(fromCache bool)
	// ExecutorLoad tells how many tasks the local executor holds waiting
	// for a slot and how many it runs, whenever either changes.
	ExecutorLoad(queued, running int)
	// BackgroundPass counts a pass of background work and the items it
	// handled; work is "reconcile", "expire", "prune_receipts",
	// "remove_tasks" or "leases".
	BackgroundPass(work string, items int)
}

// StoreOp names a timed store call.
type StoreOp string

// The store calls Metrics times.
const (
	StoreAppend StoreOp = "append"
	StoreRead   StoreOp = "read"
)

// PollOutcome says why a long poll was answered.
type PollOutcome string

// Why long polls are answered.
const (
	// PollEvents: events were there, or came while it waited.
	PollEvents PollOutcome = "events"
	// PollTimeout: none came within the wait.
	PollTimeout PollOutcome = "timeout"
	// PollShutdown: the host began to shut down while it waited.
	PollShutdown PollOutcome = "shutdown"
)

// NopMetrics counts nothing; it is the Metrics of a host that sets none.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

// StreamEvent does nothing.
func (NopMetrics) StreamEvent(StreamEvent) {}

// TaskCreated does nothing.
func (NopMetrics) TaskCreated(string, bool) {}

// TaskEnded does nothing.
func (NopMetrics) TaskEnded(TaskStatus, string) {}

// EventAppended does nothing.
func (NopMetrics) EventAppended(EventType) {}

// StoreCall does nothing.
func (NopMetrics) StoreCall(string, StoreOp, time.Duration, bool) {}

// RequestFailed does nothing.
func (NopMetrics) RequestFailed(string, string) {}

// PollAnswered does nothing.
func (NopMetrics) PollAnswered(PollOutcome) {}

// ActionAnswered does nothing.
func (NopMetrics) ActionAnswered(string) {}

// EventsDelivered does nothing.
func (NopMetrics) EventsDelivered(string, []time.Duration) {}

// HeartbeatSent does nothing.
func (NopMetrics) HeartbeatSent(string) {}

// HubRead does nothing.
func (NopMetrics) HubRead(bool) {}

// ExecutorLoad does nothing.
func (NopMetrics) ExecutorLoad(int, int) {}

// BackgroundPass does nothing.
func (NopMetrics) BackgroundPass(string, int) {}
