package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge/gen"
)

// streamServer answers StreamTaskEvents with a stream, or with a 404 envelope
// for the task "missing"; every other operation is left unimplemented.
type streamServer struct {
	gen.StrictServerInterface
}

func (streamServer) StreamTaskEvents(_ context.Context, req gen.StreamTaskEventsRequestObject) (gen.StreamTaskEventsResponseObject, error) {
	if req.TaskId == "missing" {
		return gen.StreamTaskEvents404JSONResponse{NotFoundJSONResponse: gen.NotFoundJSONResponse{
			Code: gen.ErrorCodeTaskNotFound, Message: "task not found", Details: gen.ErrorDetails{},
		}}, nil
	}
	return gen.StreamTaskEventsStream{StreamResponse: echoStream{taskID: req.TaskId, cursor: req.Params.LastEventID}}, nil
}

// echoStream writes what it was given and what only the request can tell.
type echoStream struct {
	taskID string
	cursor *string
}

func (s echoStream) ServeStream(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_, err := fmt.Fprintf(w, "task=%s cursor=%s accept=%s\n", s.taskID, *s.cursor, r.Header.Get("Accept"))
	if err == nil {
		err = http.NewResponseController(w).Flush()
	}
	return err
}

// TestStreamingHandlerServesStreamsWithTheRequest drives the generated
// NewStreamingStrictHandler over a real socket.
func TestStreamingHandlerServesStreamsWithTheRequest(t *testing.T) {
	e := echo.New()
	gen.RegisterHandlers(e, gen.NewStreamingStrictHandler(streamServer{}, nil))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/tasks/task-1/events/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Last-Event-ID", "7")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "task=task-1 cursor=7 accept=text/event-stream\n", string(body))

	resp, err = http.Get(srv.URL + "/api/v1/tasks/missing/events/stream")
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.JSONEq(t, `{"code":"TASK_NOT_FOUND","message":"task not found","details":{},"timestamp":"0001-01-01T00:00:00Z"}`, string(body))
}

// TestPlainStrictHandlerRefusesStreams: the plain strict handler cannot hand a
// stream the request, and says so instead of writing a broken response.
func TestPlainStrictHandlerRefusesStreams(t *testing.T) {
	e := echo.New()
	rec := httptest.NewRecorder()
	ctx := e.NewContext(httptest.NewRequest(http.MethodGet, "/api/v1/tasks/task-1/events/stream?lastEventId=3", nil), rec)
	ctx.SetParamNames("taskId")
	ctx.SetParamValues("task-1")
	w := &gen.ServerInterfaceWrapper{Handler: gen.NewStrictHandler(streamServer{}, nil)}
	require.ErrorIs(t, w.StreamTaskEvents(ctx), gen.ErrStreamNeedsRequest)
}
