package taskbridge

import "time"

// StreamEventKind is a step in the life of a stream.
type StreamEventKind string

// The steps a stream goes through.
const (
	// StreamOpened: the stream follows its task from Cursor on (for a
	// WebSocket, once its subscribe frame was accepted).
	StreamOpened StreamEventKind = "opened"
	// StreamReplayed: the stream caught up with the history its task had
	// when it opened, after Events events replayed in Duration; only a
	// stream that had events to replay has this step.
	StreamReplayed StreamEventKind = "replayed"
	// StreamClosed: the stream ended, for Reason, after Duration and
	// Events events; Cursor is the last event it wrote.
	StreamClosed StreamEventKind = "closed"
)

// StreamReason says why a stream ended.
type StreamReason string

// Why streams end. A client resumes by cursor after every one but
// StreamEnded.
const (
	// StreamEnded: the task's terminal event was written.
	StreamEnded StreamReason = "terminal"
	// StreamClientGone: the client closed the stream or its connection.
	StreamClientGone StreamReason = "client_gone"
	// StreamSlowReader: the client stopped reading and was cut.
	StreamSlowReader StreamReason = "slow_reader"
	// StreamHeartbeatTimeout: nothing came from the client, not even the
	// answer to a ping, for the pong timeout (WebSocket).
	StreamHeartbeatTimeout StreamReason = "heartbeat_timeout"
	// StreamShutdown: the host shut down.
	StreamShutdown StreamReason = "shutdown"
	// StreamRefused: the stream was refused: its task is missing or not the
	// caller's, the caller is over its limit of streams, or no subscribe
	// came in time.
	StreamRefused StreamReason = "refused"
	// StreamBadFrame: the client sent a frame the contract does not allow
	// (malformed, binary, too long, a cursor that is malformed or ahead, a
	// second subscribe).
	StreamBadFrame StreamReason = "bad_frame"
	// StreamFailed: the stream failed on the server's side (the store).
	StreamFailed StreamReason = "failed"
)

// StreamEvent is one step in the life of a stream, for transport
// diagnostics.
type StreamEvent struct {
	Kind StreamEventKind
	// Transport is "sse" or "websocket".
	Transport string
	// ConnID tells the streams of one process apart.
	ConnID uint64
	// TaskID is the followed task; "" for a WebSocket closed before it
	// subscribed.
	TaskID string
	// Subject is the caller's.
	Subject string
	// Cursor is the eventId the stream resumed after (opened; 0 from the
	// start) or the last one it wrote (closed).
	Cursor uint64
	// Events counts the events written (closed) or replayed (replayed).
	Events int
	// Behind is how many events the task had past Cursor when a slow
	// reader was cut (closed, StreamSlowReader), as far as the hub knew.
	Behind uint64
	// Opened tells, on a close, that the stream had opened: a WebSocket
	// closed before its subscribe was accepted never did.
	Opened bool
	// Reason says why it closed.
	Reason StreamReason
	// Duration is how long it was open (closed) or took to replay
	// (replayed).
	Duration time.Duration
	// Err is the cause of a close that is not the client's choice or the
	// task's end, for logs; nil otherwise.
	Err error
}

// Diagnostics receives the life of every stream (SSE responses, WebSocket
// sessions): a host's sink for transport diagnostics, next to Metrics.
// StreamEvent is called on the stream's own goroutine: it must be safe for
// concurrent use and must not block.
type Diagnostics interface {
	StreamEvent(e StreamEvent)
}
