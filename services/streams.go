package services

import (
	"context"
	"net/http"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// SSERequest is a checked request to follow a task over SSE.
type SSERequest struct {
	// Task is the caller's task, as it was when the stream was asked for.
	Task taskbridge.Task
	// After is the cursor: the stream starts strictly after it.
	After uint64
}

// OpenTask returns the caller's task, or ErrTaskNotFound when it is missing
// or not the caller's. WebSocket sessions use it for each subscribe frame.
type OpenTask func(ctx context.Context, taskID string) (taskbridge.Task, error)

// Streams serves the live transports; the runtime implements it.
type Streams interface {
	// SSE returns the response that streams the task's events after the cursor.
	SSE(ctx context.Context, req SSERequest) gen.StreamResponse
	// WebSocket returns the response that upgrades the request and serves
	// subscriptions of the caller, checking each task with open.
	WebSocket(ctx context.Context, p taskbridge.Principal, open OpenTask) gen.StreamResponse
}

func noStreams() *Error {
	return newError(http.StatusServiceUnavailable, gen.ErrorCodeNotReady, "this host serves no live streams; poll the events instead")
}

// StreamTaskEvents checks the task and the cursor (Last-Event-ID wins over
// lastEventId) and hands the stream to the runtime. A cursor at or past the
// terminal event answers 204, which tells EventSource to stop reconnecting.
func (a *API) StreamTaskEvents(ctx context.Context, req gen.StreamTaskEventsRequestObject) (gen.StreamTaskEventsResponseObject, error) {
	param, cursor := "lastEventId", req.Params.LastEventId
	if req.Params.LastEventID != nil {
		param, cursor = "Last-Event-ID", req.Params.LastEventID
	}
	after, err := ParseCursor(param, cursor)
	if err != nil {
		return nil, err
	}
	_, t, err := a.task(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	if t.Status.IsTerminal() && after >= t.LastEventID {
		return gen.StreamTaskEvents204Response{}, nil
	}
	if a.cfg.Streams == nil {
		return nil, noStreams()
	}
	return gen.StreamTaskEventsStream{StreamResponse: a.cfg.Streams.SSE(ctx, SSERequest{Task: t, After: after})}, nil
}

// ConnectTaskStream hands the WebSocket upgrade to the runtime with the
// caller; tasks are checked per subscribe frame.
func (a *API) ConnectTaskStream(ctx context.Context, _ gen.ConnectTaskStreamRequestObject) (gen.ConnectTaskStreamResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if a.cfg.Streams == nil {
		return nil, noStreams()
	}
	open := func(ctx context.Context, taskID string) (taskbridge.Task, error) {
		_, t, err := a.task(WithPrincipal(ctx, p), taskID)
		return t, err
	}
	return gen.ConnectTaskStreamStream{StreamResponse: a.cfg.Streams.WebSocket(ctx, p, open)}, nil
}
