package services

import (
	"context"
	"net/http"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// SSEStreams serves Server-Sent Events; the runtime implements it. Its
// signature uses only root and gen types, so the runtime need not import
// this package.
type SSEStreams interface {
	// SSE returns the response that streams the caller p's task (as it was
	// when the stream was asked for) strictly after the cursor, and calls
	// done once when the stream has ended, which may be after ServeStream
	// returned (a runtime may take the connection over).
	SSE(ctx context.Context, p taskbridge.Principal, task taskbridge.Task, after uint64, done func()) gen.StreamResponse
}

// WebSocketStreams serves WebSocket sessions; the runtime implements it.
type WebSocketStreams interface {
	// WebSocket returns the response that upgrades the request and serves
	// the caller's subscriptions, checking each subscribed task with open,
	// which answers taskbridge.ErrTaskNotFound (wrapped) for a task that is
	// missing or not the caller's, and calls done once when the session
	// has ended (after ServeStream returned, or within it).
	WebSocket(ctx context.Context, p taskbridge.Principal, open func(ctx context.Context, taskID string) (taskbridge.Task, error), done func()) gen.StreamResponse
}

func noStreams(transport string) *Error {
	return newError(http.StatusServiceUnavailable, gen.ErrorCodeNotReady, "this host serves no "+transport+" streams; poll the events instead")
}

// StreamTaskEvents checks the task and the cursor (Last-Event-ID wins over
// lastEventId) and hands the stream to the runtime. A cursor at the
// terminal event answers 204, which tells EventSource to stop reconnecting;
// one ahead of the newest event 400.
func (a *API) StreamTaskEvents(ctx context.Context, req gen.StreamTaskEventsRequestObject) (gen.StreamTaskEventsResponseObject, error) {
	param, cursor := "lastEventId", req.Params.LastEventId
	if req.Params.LastEventID != nil {
		param, cursor = "Last-Event-ID", req.Params.LastEventID
	}
	after, err := ParseCursor(param, cursor)
	if err != nil {
		return nil, err
	}
	p, t, err := a.task(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	if err := notAhead(param, after, t); err != nil {
		return nil, err
	}
	if t.Status.IsTerminal() && after == t.LastEventID {
		return gen.StreamTaskEvents204Response{}, nil
	}
	if a.cfg.SSE == nil {
		return nil, noStreams("SSE")
	}
	release, err := a.limits.openStream(p.Subject)
	if err != nil {
		return nil, err
	}
	return gen.StreamTaskEventsStream{StreamResponse: a.cfg.SSE.SSE(ctx, p, t, after, release)}, nil
}

// ConnectTaskStream hands the WebSocket upgrade to the runtime with the
// caller; tasks are checked per subscribe frame.
func (a *API) ConnectTaskStream(ctx context.Context, _ gen.ConnectTaskStreamRequestObject) (gen.ConnectTaskStreamResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if a.cfg.WebSocket == nil {
		return nil, noStreams("WebSocket")
	}
	// A connection subscribes once; its place in the limits is taken then,
	// on the session's goroutine, and given back when the session ends.
	release := func() {}
	open := func(ctx context.Context, taskID string) (taskbridge.Task, error) {
		_, t, err := a.task(WithPrincipal(ctx, p), taskID)
		if err != nil {
			return t, err
		}
		r, err := a.limits.openStream(p.Subject)
		if err != nil {
			return t, err
		}
		release()
		release = r
		return t, nil
	}
	stream := a.cfg.WebSocket.WebSocket(ctx, p, open, func() { release() })
	return gen.ConnectTaskStreamStream{StreamResponse: stream}, nil
}
