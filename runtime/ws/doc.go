// Package ws serves the TaskBridge WebSocket task stream (AsyncAPI channel
// taskStream, GET /api/v1/tasks/ws) over the fan-out hub of package
// runtime/hub. Server.WebSocket returns the gen.StreamResponse that the
// services hand to the generated handler; ServeStream upgrades the request
// with gorilla/websocket and runs the session until it ends.
//
//	srv := ws.New(h, ws.Settings{}, logger)
//	defer srv.Shutdown(ctx)
//	// services.Config{WebSocket: srv, ...}
//
// # Protocol
//
// After the upgrade the client sends one frame,
// {"action":"subscribe","taskId":...,"lastEventId":...}, where lastEventId
// is optional and null or absent means from the start. The server answers
// {"type":"SUBSCRIPTION_CONFIRMED","taskId":...,"replayStartedAfterEventId":...,"live":true},
// then every event strictly after the cursor, replayed and then live, each
// as one text frame holding the event envelope exactly as the hub encoded
// it. When nothing was sent for Settings.HeartbeatInterval it sends
// {"type":"HEARTBEAT","taskId":...,"live":true}. Within one connection no
// event is skipped, repeated or reordered: the switch from replay to live is
// a matter of the hub's cursor.
//
// # Closing
//
// The server closes with 1000 (normal closure) right after the terminal
// event, or right after the confirmation when the cursor is already at the
// terminal event of an ended task. It closes with 1008 (policy violation)
// when the first frame is not a valid subscribe frame (not JSON, unknown
// action or field, missing taskId, a binary frame, no frame within
// Settings.SubscribeTimeout), when lastEventId is malformed or ahead of the
// task's newest event (it cannot be a cursor of this task), when the task is
// missing or not the caller's, and on any frame after the subscribe frame;
// with 1009 (message too big) on a frame longer than Settings.ReadLimit. No
// error frame is sent: the close reason names the error code, as in
// "TASK_NOT_FOUND: task not found". It closes with 1001 (going away) on
// Shutdown and when the hub closes, and with 1011 (internal error) when the
// task's events cannot be read; the client resumes by cursor in both cases.
//
// # Slow and dead peers
//
// The session's control loop writes a batch of events (at most
// Settings.BatchSize events or Settings.BatchBytes) with one vectored write
// before it takes the next, as the SSE stream does, so a slow peer is
// served at its own pace (from the hub's cache, or the store once it falls
// behind) and never holds up the hub or another session. A peer that stops
// reading is cut without a close frame once a write makes no progress for
// Settings.WriteTimeout (a large frame goes out in pieces, each with its own
// deadline); it resumes by cursor. A ping goes out every
// Settings.PingInterval, and a peer from which nothing (not even a pong)
// arrives for Settings.PongTimeout is dropped.
//
// # Shutdown
//
// net/http does not track hijacked connections, so Server.Shutdown closes
// every session itself with 1001 and waits for their goroutines (bounded by
// its context); the host calls it next to http.Server.Shutdown. Sessions
// also close with 1001 when the hub closes.
//
// # Concurrency
//
// Server's methods are safe for concurrent use. A session runs on
// goroutines of its own, started by ServeStream, which returns after the
// upgrade so that the request's goroutine, grown deep by the middleware it
// went through, and the HTTP server's buffers do not stay with an idle
// connection: a reader, and the control loop, which writes every frame.
// Once subscribed, the control loop holds a goroutine only while it has
// work. After Settings.ParkAfter with nothing to send it parks: its
// goroutine ends, and whatever concerns it (the task's next event, a
// heartbeat or ping falling due, a frame from the peer or its hanging up,
// Shutdown, the hub's shutdown) takes it up again on a new goroutine, so an
// idle subscriber holds one goroutine, not two. The control loop decides
// how the connection ends, writes the close frame, waits for the peer's (at
// most WriteTimeout), closes the connection and waits for the reader; then
// the session calls its done callback and Shutdown stops waiting for it.
package ws
