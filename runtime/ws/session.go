package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/internal/diag"
	"github.com/taskbridge-go/taskbridge/runtime/internal/park"
)

// session is one WebSocket connection. Its goroutines:
//
//   - the control loop (run, on a goroutine ServeStream starts) owns the
//     subscription and the follower, writes every data frame, ping and
//     close frame, decides how the connection ends, and waits for the
//     reader before it ends. Once subscribed, it holds a goroutine only
//     while it has work: after Settings.ParkAfter with nothing to send it
//     parks (park.Loop), and the next event, heartbeat or ping due, frame
//     from the peer, end of the reader or shutdown resumes it on a new
//     goroutine (resume). An idle subscriber thus costs one goroutine, not
//     two;
//   - the reader (read) reads frames, answers pings and moves the read
//     deadline, and hands data frames to the control loop; it ends when a
//     read fails, at the latest when the control loop closes the
//     connection.
type session struct {
	srv  *Server
	cfg  Settings
	log  *slog.Logger
	p    taskbridge.Principal
	open func(ctx context.Context, taskID string) (taskbridge.Task, error)
	conn *websocket.Conn
	cork *corkConn

	// ctx is the request's context, cancelled by Shutdown with errShutdown.
	ctx    context.Context
	cancel context.CancelCauseFunc

	loop  *park.Loop
	ended func() // ServeStream's done, called once the session has ended

	// Of following, once subscribed; the control loop's.
	f         *hub.Follower
	heartbeat []byte    // the HEARTBEAT frame
	wroteAt   time.Time // when events were last written (or the session subscribed)
	beatAt    time.Time // when a heartbeat was last written (or the session subscribed)
	pingAt    time.Time // when a ping is due

	// What the control loop learned of its writes, for the end.
	writeErr  error // the write that failed
	closeSent bool  // a close frame was written

	// Reader -> control loop; the reader wakes the loop after each.
	incoming   chan inbound  // holds one frame
	readerDone chan struct{} // closed when the reader ends
	readErr    error         // why the reader ended; read after readerDone
	// done is closed when the control loop takes no more frames; the reader
	// then discards them while it waits for the peer's close frame.
	done chan struct{}

	// What diagnostics hear; the control loop writes them, finish reads
	// them after it.
	connID  uint64
	started time.Time
	taskID  string // the subscribed task
	events  int    // events written
	cursor  uint64 // the last of them
	// Of the subscription, once it is accepted.
	opened bool
	replay diag.Replay
	behind uint64 // how far the task was past cursor when following ended
}

// inbound is a data frame the reader received.
type inbound struct {
	data   []byte
	binary bool
	tooBig bool // longer than ReadLimit; data holds its start
}

// newSession returns a session of conn; ended is called once it has ended.
func (s *Server) newSession(ctx context.Context, conn *websocket.Conn, cork *corkConn, p taskbridge.Principal, open func(context.Context, string) (taskbridge.Task, error), ended func()) *session {
	ctx, cancel := context.WithCancelCause(ctx)
	ss := &session{
		srv: s, cfg: s.cfg, log: s.log, p: p, open: open, conn: conn, cork: cork,
		ctx: ctx, cancel: cancel, ended: ended, connID: diag.NextID(), started: time.Now(),
		incoming:   make(chan inbound, 1),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	ss.loop = park.New(ss.resume)
	return ss
}

// run serves the session: it starts the reader, waits for the subscribe
// frame and follows the task, until the session ends or the loop parks.
func (ss *session) run() {
	ss.conn.SetReadLimit(ss.cfg.hardReadLimit())
	go ss.read()
	sub, c, ok := ss.awaitSubscribe()
	if !ok {
		ss.end(c)
		return
	}
	if c, parked := ss.follow(sub); !parked {
		ss.end(c)
	}
}

// resume takes the control loop up on a new goroutine after it parked.
func (ss *session) resume() {
	ss.f.StopWake()
	if c, parked := ss.deliver(); !parked {
		ss.end(c)
	}
}

// end ends the session as c says, on the control loop's goroutine.
func (ss *session) end(c closeReq) {
	ss.loop.End()
	if ss.f != nil {
		ss.behind = ss.f.Behind()
		ss.f.Close()
	}
	ss.finish(c)
	ss.cancel(nil)
	ss.ended()
	ss.srv.sessions.Remove(ss)
}

// finish ends the connection as c says and waits for the reader.
func (ss *session) finish(c closeReq) {
	close(ss.done)
	if c.code != 0 && ss.writeErr == nil {
		msg := websocket.FormatCloseMessage(c.code, c.reason)
		if err := ss.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(ss.cfg.WriteTimeout)); err != nil {
			ss.writeErr = err
		} else {
			ss.closeSent = true
		}
	}
	if ss.closeSent {
		// Wait for the peer's close frame, so that the connection is not
		// reset under a close frame the peer has yet to read.
		t := time.NewTimer(ss.cfg.WriteTimeout)
		select {
		case <-ss.readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	_ = ss.conn.Close()
	<-ss.readerDone
	e := ss.event(taskbridge.StreamClosed)
	e.Events, e.Cursor, e.Duration, e.Opened = ss.events, ss.cursor, time.Since(ss.started), ss.opened
	e.Reason, e.Err = ss.why(c)
	if e.Reason == taskbridge.StreamSlowReader {
		e.Behind = ss.behind
	}
	ss.cfg.Diagnostics.StreamEvent(e)
	ss.logEnd(c)
}

func (ss *session) event(kind taskbridge.StreamEventKind) taskbridge.StreamEvent {
	return taskbridge.StreamEvent{Kind: kind, Transport: "websocket", ConnID: ss.connID, TaskID: ss.taskID, Subject: ss.p.Subject}
}

// why tells the diagnostics why the session ended as c says.
func (ss *session) why(c closeReq) (taskbridge.StreamReason, error) {
	var ne net.Error
	switch {
	case c.code == gen.CloseNormalClosure:
		return taskbridge.StreamEnded, nil
	case c.code == gen.CloseGoingAway:
		return taskbridge.StreamShutdown, nil
	case c.badFrame:
		return taskbridge.StreamBadFrame, errors.New(c.reason)
	case c.code == gen.ClosePolicyViolation:
		return taskbridge.StreamRefused, errors.New(c.reason)
	case c.code == gen.CloseInternalError:
		return taskbridge.StreamFailed, errors.New(c.reason)
	case errors.As(ss.writeErr, &ne) && ne.Timeout():
		return taskbridge.StreamSlowReader, ss.writeErr
	case errors.Is(ss.readErr, websocket.ErrReadLimit):
		return taskbridge.StreamBadFrame, ss.readErr // the library closed with 1009
	case errors.As(ss.readErr, &ne) && ne.Timeout():
		return taskbridge.StreamHeartbeatTimeout, ss.readErr // nothing came, not even a pong
	case ss.readErr != nil && !websocket.IsCloseError(ss.readErr, websocket.CloseNormalClosure, websocket.CloseGoingAway):
		return taskbridge.StreamClientGone, ss.readErr // a dead peer, or one that stopped answering pings
	}
	return taskbridge.StreamClientGone, nil
}

// logEnd logs a session that ended badly for the server's side: a failure
// (error) or a peer that does not read (warn). Every end reaches the
// diagnostics.
func (ss *session) logEnd(c closeReq) {
	ctx := context.WithoutCancel(ss.ctx)
	var level slog.Level
	var ne net.Error
	switch {
	case c.code == gen.CloseInternalError:
		level = slog.LevelError
	case errors.As(ss.writeErr, &ne) && ne.Timeout():
		level = slog.LevelWarn // a peer that does not read
	default:
		return
	}
	if !ss.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("transport", "websocket"),
		slog.Uint64("conn", ss.connID),
		slog.String("taskId", ss.taskID),
		slog.String("eventId", taskbridge.FormatEventID(ss.cursor)),
		slog.String("subject", ss.p.Subject),
		slog.Int("code", c.code),
		slog.String("reason", c.reason),
	}
	if ss.readErr != nil && !websocket.IsCloseError(ss.readErr, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
		attrs = append(attrs, slog.String("read", ss.readErr.Error()))
	}
	if ss.writeErr != nil {
		attrs = append(attrs, slog.String("write", ss.writeErr.Error()))
	}
	ss.log.LogAttrs(ctx, level, "websocket session ended", attrs...)
}

// read reads frames until a read fails. Each frame received, pings and
// pongs included, moves the read deadline PongTimeout ahead, so a peer that
// stops answering pings is dropped.
func (ss *session) read() {
	defer ss.loop.Wake()
	defer close(ss.readerDone)
	extend := func() error { return ss.conn.SetReadDeadline(time.Now().Add(ss.cfg.PongTimeout)) }
	ss.conn.SetPongHandler(func(string) error { return extend() })
	ss.conn.SetPingHandler(func(data string) error {
		if err := extend(); err != nil {
			return err
		}
		err := ss.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(ss.cfg.WriteTimeout))
		var ne net.Error
		if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil // as the library's default handler does
		}
		return err
	})
	if err := extend(); err != nil {
		ss.readErr = err
		return
	}
	limit := int64(ss.cfg.ReadLimit)
	for {
		typ, r, err := ss.conn.NextReader()
		if err != nil {
			ss.readErr = err
			return
		}
		// Read one byte over the limit to tell a message that is too long;
		// the library discards the rest at the next NextReader.
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err == nil {
			err = extend()
		}
		if err != nil {
			ss.readErr = err
			return
		}
		m := inbound{data: data, binary: typ == websocket.BinaryMessage, tooBig: int64(len(data)) > limit}
		select {
		case ss.incoming <- m:
			ss.loop.Wake()
		case <-ss.done:
		}
	}
}

// subscription is what a valid subscribe frame asked for.
type subscription struct {
	task      taskbridge.Task
	cursor    uint64
	hasCursor bool
}

// awaitSubscribe waits for the subscribe frame and opens its task, or
// returns how the connection ends.
func (ss *session) awaitSubscribe() (subscription, closeReq, bool) {
	t := time.NewTimer(ss.cfg.SubscribeTimeout)
	defer t.Stop()
	var m inbound
	select {
	case m = <-ss.incoming:
	case <-t.C:
		return subscription{}, policy(gen.ErrorCodeInvalidRequest, "no subscribe frame in time"), false
	case <-ss.readerDone:
		return subscription{}, closeReq{}, false
	case <-ss.ctx.Done():
		return subscription{}, goingAway(), false
	case <-ss.srv.hub.Done():
		return subscription{}, goingAway(), false
	}
	return ss.subscribe(m)
}

// subscribe checks the subscribe frame and opens its task.
func (ss *session) subscribe(m inbound) (subscription, closeReq, bool) {
	frame, c, ok := decode(m, ss.cfg.ReadLimit)
	if !ok {
		return subscription{}, c, false
	}
	if !validTaskID(frame.TaskId) {
		return subscription{}, policy(gen.ErrorCodeRequestValidationError, "taskId is not a valid task id"), false
	}
	var sub subscription
	if frame.LastEventId != nil {
		cursor, err := taskbridge.ParseEventID(*frame.LastEventId)
		if err != nil {
			return subscription{}, badFrame("malformed lastEventId"), false
		}
		sub.cursor, sub.hasCursor = cursor, true
	}
	ss.taskID = frame.TaskId
	task, err := ss.open(ss.ctx, frame.TaskId)
	if err != nil {
		return subscription{}, ss.failed(err), false
	}
	if sub.cursor > task.LastEventID {
		// Not a cursor of this task (another task's, or a database that
		// lost data): no event after it may ever come. The store, which
		// open read, judges it.
		return subscription{}, badFrame("lastEventId is ahead of the task's newest event"), false
	}
	sub.task = task
	return sub, closeReq{}, true
}

// decode validates a frame as a subscribe frame.
func decode(m inbound, limit int) (gen.SubscribeFrame, closeReq, bool) {
	switch {
	case m.binary:
		return gen.SubscribeFrame{}, badFrame("binary frames are not accepted"), false
	case m.tooBig:
		return gen.SubscribeFrame{}, closeReq{code: gen.CloseMessageTooBig, reason: reasonOf(gen.ErrorCodeInvalidRequest, fmt.Sprintf("frame over %d bytes", limit)), badFrame: true}, false
	case !json.Valid(m.data):
		return gen.SubscribeFrame{}, badFrame("frame is not JSON"), false
	}
	f, err := gen.DecodeTaskStreamClientFrame(m.data)
	if err != nil {
		return gen.SubscribeFrame{}, policy(gen.ErrorCodeRequestValidationError, err.Error()), false
	}
	frame, ok := f.(gen.SubscribeFrame)
	if !ok {
		return gen.SubscribeFrame{}, policy(gen.ErrorCodeRequestValidationError, "not a subscribe frame"), false
	}
	return frame, closeReq{}, true
}

// follow sends the confirmation and starts following the task: the
// events after the cursor as they come, each batch written before the next
// is taken, until the terminal event. It returns how the session ends, or
// that the loop parked.
func (ss *session) follow(sub subscription) (c closeReq, parked bool) {
	ss.f = ss.srv.hub.Follow(sub.task.ID, sub.cursor)
	now := time.Now()
	ss.wroteAt, ss.beatAt, ss.pingAt = now, now, now.Add(ss.cfg.PingInterval)
	ss.loop.WakeWhenDone(ss.ctx)

	confirm := gen.SubscriptionConfirmedFrame{
		Type:   gen.SubscriptionConfirmedFrameTypeSubscriptionConfirmed,
		TaskId: sub.task.ID,
		Live:   true,
	}
	if sub.hasCursor {
		after := taskbridge.FormatEventID(sub.cursor)
		confirm.ReplayStartedAfterEventId = &after
	}
	if err := ss.send(mustJSON(confirm)); err != nil {
		return ss.writeFailed(err), false
	}
	opened := ss.event(taskbridge.StreamOpened)
	opened.Cursor, ss.cursor = sub.cursor, sub.cursor
	ss.cfg.Diagnostics.StreamEvent(opened)
	ss.opened, ss.replay = true, diag.NewReplay(sub.task.LastEventID, ss.cfg.Metrics, ss.cfg.Diagnostics)
	if sub.task.Status.IsTerminal() && sub.cursor == sub.task.LastEventID {
		return ended(), false
	}
	ss.heartbeat = mustJSON(gen.HeartbeatFrame{Type: gen.HeartbeatFrameTypeHeartbeat, TaskId: sub.task.ID, Live: true})
	return ss.deliver()
}

// deliver is the control loop once subscribed: it writes each batch of
// events the follower has, and the heartbeat and ping when due, and waits
// for more; after ParkAfter with nothing to send it parks instead of
// waiting. It returns how the session ends, or that the loop parked.
func (ss *session) deliver() (c closeReq, parked bool) {
	for {
		ss.loop.Begin()
		events, wait, err := ss.f.Next(ss.ctx, ss.cfg.BatchSize, ss.cfg.BatchBytes)
		if err != nil {
			return ss.failed(err), false
		}
		if len(events) > 0 {
			if err := ss.sendEvents(events); err != nil {
				return ss.writeFailed(err), false
			}
			if events[len(events)-1].Type.IsTerminal() {
				return ended(), false
			}
			// Let every other connection write before this one writes
			// again: under load, a session that went straight back for
			// more would keep finding some while those behind it wait.
			runtime.Gosched()
		}
		now := time.Now()
		if c, end := ss.tend(now, len(events) > 0); end {
			return c, false
		}
		switch {
		case len(events) > 0: // take the next batch
		case now.Before(ss.parkAt()):
			ss.arm(now)
			select {
			case <-wait:
			case <-ss.loop.Kicked():
			}
		default:
			ss.arm(now)
			ss.f.WakeOnChange(wait, ss.loop.Wake)
			if ss.loop.Park() {
				return closeReq{}, true
			}
			ss.f.StopWake()
		}
	}
}

// tend looks at what the reader and a shutdown may have changed, and
// writes the heartbeat and the ping when due; wrote says that events were
// just written. It returns how the session ends when it does.
func (ss *session) tend(now time.Time, wrote bool) (closeReq, bool) {
	select {
	case m := <-ss.incoming:
		if _, c, ok := decode(m, ss.cfg.ReadLimit); !ok {
			return c, true
		}
		return badFrame("already subscribed; one subscription per connection"), true
	case <-ss.readerDone:
		return closeReq{}, true
	default:
	}
	if ss.ctx.Err() != nil || ss.srv.hub.Closed() {
		return goingAway(), true
	}
	switch {
	case wrote:
		ss.wroteAt = now // the heartbeat and parking wait from here
	case !now.Before(ss.heartbeatAt()):
		if err := ss.send(ss.heartbeat); err != nil {
			return ss.writeFailed(err), true
		}
		ss.cfg.Metrics.HeartbeatSent("websocket")
		ss.beatAt = now
	}
	if !now.Before(ss.pingAt) {
		if err := ss.conn.WriteControl(websocket.PingMessage, nil, now.Add(ss.cfg.WriteTimeout)); err != nil {
			return ss.writeFailed(err), true
		}
		ss.pingAt = now.Add(ss.cfg.PingInterval)
	}
	return closeReq{}, false
}

// heartbeatAt is when a heartbeat is due: HeartbeatInterval after the
// last frame written, events or heartbeat.
func (ss *session) heartbeatAt() time.Time {
	last := ss.wroteAt
	if ss.beatAt.After(last) {
		last = ss.beatAt
	}
	return last.Add(ss.cfg.HeartbeatInterval)
}

// parkAt is when the loop parks if nothing comes.
func (ss *session) parkAt() time.Time { return ss.wroteAt.Add(ss.cfg.ParkAfter) }

// arm makes the loop wake at the next heartbeat, ping or, while it is
// ahead, parking.
func (ss *session) arm(now time.Time) {
	at := ss.heartbeatAt()
	if ss.pingAt.Before(at) {
		at = ss.pingAt
	}
	if parkAt := ss.parkAt(); now.Before(parkAt) && parkAt.Before(at) {
		at = parkAt
	}
	ss.loop.WakeAt(now, at)
}

// writeFailed ends a session whose write failed: without a close frame,
// which could not reach the peer either.
func (ss *session) writeFailed(err error) closeReq {
	ss.writeErr = err
	return closeReq{}
}

// sendEvents writes a batch of events, tells the metrics the delivery lag
// of the live ones, and the diagnostics the end of the replay.
func (ss *session) sendEvents(events []*hub.Event) error {
	if err := ss.cork.SetWriteDeadline(time.Now().Add(ss.cfg.WriteTimeout)); err != nil {
		return err
	}
	if err := ss.cork.writeEvents(events); err != nil {
		return err
	}
	ss.replay.Written(events, ss.event(taskbridge.StreamReplayed))
	ss.events, ss.cursor = ss.events+len(events), events[len(events)-1].ID
	return nil
}

// send writes one text frame.
func (ss *session) send(frame []byte) error {
	if err := ss.cork.SetWriteDeadline(time.Now().Add(ss.cfg.WriteTimeout)); err != nil {
		return err
	}
	return ss.cork.writeText(frame)
}

// failed maps an error of open or of the hub to a close.
func (ss *session) failed(err error) closeReq {
	switch {
	case ss.ctx.Err() != nil:
		return goingAway()
	case errors.Is(err, taskbridge.ErrTaskNotFound):
		return policy(gen.ErrorCodeTaskNotFound, "task not found")
	case errors.Is(err, taskbridge.ErrUnauthenticated):
		return policy(gen.ErrorCodeAuthenticationError, "authentication required")
	case errors.Is(err, taskbridge.ErrTooManyRequests):
		return policy(gen.ErrorCodeTooManyRequests, "over this caller's limit of open streams")
	}
	ss.log.LogAttrs(context.WithoutCancel(ss.ctx), slog.LevelError, "websocket stream failed",
		slog.String("transport", "websocket"), slog.Uint64("conn", ss.connID), slog.String("taskId", ss.taskID), slog.Any("err", err))
	return closeReq{code: gen.CloseInternalError, reason: reasonOf(gen.ErrorCodeInternalError, "the task's events could not be read; resume later")}
}

// ended is the close after the terminal event.
func ended() closeReq {
	return closeReq{code: gen.CloseNormalClosure, reason: "task ended"}
}

const reasonShutdown = "server shutting down; resume elsewhere with the last eventId"

func goingAway() closeReq {
	return closeReq{code: gen.CloseGoingAway, reason: reasonShutdown}
}

// policy is a 1008 close whose reason names the error code.
func policy(code gen.ErrorCode, msg string) closeReq {
	return closeReq{code: gen.ClosePolicyViolation, reason: reasonOf(code, msg)}
}

// badFrame is the close for a frame the contract does not allow.
func badFrame(msg string) closeReq {
	c := policy(gen.ErrorCodeInvalidRequest, msg)
	c.badFrame = true
	return c
}

// maxReason is the longest close reason a close frame can carry.
const maxReason = 123

func reasonOf(code gen.ErrorCode, msg string) string {
	r := strings.ToValidUTF8(string(code)+": "+msg, "?")
	if len(r) <= maxReason {
		return r
	}
	r = r[:maxReason]
	for !utf8.ValidString(r) {
		r = r[:len(r)-1]
	}
	return r
}

// validTaskID reports whether id matches the TaskId schema:
// ^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,254}$.
func validTaskID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '@' && c != '-') {
			return false
		}
	}
	return true
}

// mustJSON encodes a generated frame, which always encodes.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ws: encoding %T: %v", v, err))
	}
	return b
}
