package services

import (
	"context"
	"net/http"
	"time"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
)

// Defaults of a poll.
const (
	DefaultMaxEvents    = 100
	DefaultMaxPollBytes = 4 << 20
)

// GetTask answers the task's snapshot: status, type, timestamps, last event
// id, its open suspension, its latest progress and, once it ended, its
// result, failure or cancel reason, all from the task's record (which the
// store keeps with each append) without replaying its history.
func (a *API) GetTask(ctx context.Context, req gen.GetTaskRequestObject) (gen.GetTaskResponseObject, error) {
	_, t, err := a.task(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	var open *taskbridge.Suspension
	if s, ok, err := a.cfg.Store.OpenSuspensionOf(ctx, t.ID); err != nil {
		return nil, err
	} else if ok {
		open = &s
	}
	snap, err := snapshot(t, open)
	if err != nil {
		return nil, err
	}
	return gen.GetTask200JSONResponse(snap), nil
}

// ParseCursor parses a client's cursor; an absent one is 0, from the start.
// A malformed one is a 400 INVALID_REQUEST naming the parameter.
func ParseCursor(param string, cursor *string) (uint64, error) {
	if cursor == nil {
		return 0, nil
	}
	id, err := taskbridge.ParseEventID(*cursor)
	if err != nil {
		e := invalid(param, param+" is not an eventId of this task")
		e.Err = err
		return 0, e
	}
	return id, nil
}

// notAhead refuses a cursor ahead of the task's newest event: it cannot
// have come from this task's stream (another task's cursor, a database
// that lost data), and a stream after it would wait for events that are
// never sent. The task was read from the store, which judges it: every
// event a client was ever sent is at or before its LastEventID.
func notAhead(param string, after uint64, t taskbridge.Task) error {
	if after <= t.LastEventID {
		return nil
	}
	return newError(http.StatusBadRequest, gen.ErrorCodeInvalidRequest,
		param+" is ahead of the task's newest event: it is not a cursor of this task",
		"field", param, "lastEventId", eventIDOrNull(t.LastEventID))
}

// eventIDOrNull is an eventId for details, nil before the first event.
func eventIDOrNull(id uint64) any {
	if id == 0 {
		return nil
	}
	return taskbridge.FormatEventID(id)
}

// PollTaskEvents answers the events after the cursor, up to maxEvents and
// MaxPollBytes of payload (at least one event), with hasMore when more
// were there. When there are none yet and waitTimeoutMs is above 0 it
// waits for the first new one, up to that long (or until the notifier
// shuts down).
func (a *API) PollTaskEvents(ctx context.Context, req gen.PollTaskEventsRequestObject) (gen.PollTaskEventsResponseObject, error) {
	after, err := ParseCursor("afterEventId", req.Params.AfterEventId)
	if err != nil {
		return nil, err
	}
	_, t, err := a.task(ctx, req.TaskId)
	if err != nil {
		return nil, err
	}
	if err := notAhead("afterEventId", after, t); err != nil {
		return nil, err
	}
	limit := DefaultMaxEvents
	if req.Params.MaxEvents != nil {
		limit = *req.Params.MaxEvents
	}
	var wait time.Duration
	if req.Params.WaitTimeoutMs != nil {
		wait = time.Duration(*req.Params.WaitTimeoutMs) * time.Millisecond
	}
	if a.cfg.MaxPollWait > 0 {
		wait = min(wait, a.cfg.MaxPollWait)
	}
	if t.Status.IsTerminal() {
		wait = 0 // nothing more will come
	}
	events, err := a.readWaiting(ctx, req.TaskId, after, limit+1, wait)
	if err != nil {
		return nil, err
	}
	a.cfg.Metrics.PollAnswered(a.pollOutcome(len(events)))
	body := gen.PollEventsResponse{TaskId: req.TaskId, Events: []gen.TaskEvent{}, NextAfterEventId: req.Params.AfterEventId}
	if len(events) > limit {
		body.HasMore = true
		events = events[:limit]
	}
	if n := len(events); n > 0 && events[n-1].ID < t.LastEventID {
		body.HasMore = true // stopped short at the byte bound
	}
	for _, e := range events {
		body.Events = append(body.Events, wireEvent(e))
	}
	if n := len(events); n > 0 {
		body.NextAfterEventId = eventIDPtr(events[n-1].ID)
	}
	return gen.PollTaskEvents200JSONResponse(body), nil
}

// pollOutcome says why a poll that found n events is answered.
func (a *API) pollOutcome(n int) taskbridge.PollOutcome {
	switch {
	case n > 0:
		return taskbridge.PollEvents
	case a.cfg.Notifier != nil && a.cfg.Notifier.Closed():
		return taskbridge.PollShutdown
	}
	return taskbridge.PollTimeout
}

// readWaiting reads after the cursor and, when nothing is there, waits for
// an append and reads again. It registers for the wake-up before reading, so
// an append between the read and the wait is not missed.
func (a *API) readWaiting(ctx context.Context, taskID string, after uint64, limit int, wait time.Duration) ([]taskbridge.Event, error) {
	if wait <= 0 || a.cfg.Notifier == nil {
		return a.cfg.Store.ReadAfter(ctx, taskID, after, limit, a.cfg.MaxPollBytes)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		changed, release := a.cfg.Notifier.Notify(taskID)
		events, err := a.cfg.Store.ReadAfter(ctx, taskID, after, limit, a.cfg.MaxPollBytes)
		if err != nil || len(events) > 0 {
			release()
			return events, err
		}
		select {
		case <-changed:
			release()
			if a.cfg.Notifier.Closed() {
				return a.cfg.Store.ReadAfter(ctx, taskID, after, limit, a.cfg.MaxPollBytes)
			}
		case <-timer.C:
			release()
			return nil, nil
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
}
