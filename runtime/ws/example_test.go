package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// A client subscribes after the first event of an ended task: it gets the
// confirmation, the rest of the history and the normal close.
func Example() {
	ctx := context.Background()
	store := memory.New()
	h := hub.New(store, hub.Config{})
	go h.Run(ctx)
	defer h.Close()
	srv := ws.New(h, ws.Settings{}, nil)
	defer srv.Shutdown(ctx)

	// The host's handler; the services would check the caller's ownership.
	open := func(ctx context.Context, taskID string) (taskbridge.Task, error) { return store.GetTask(ctx, taskID) }
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = srv.WebSocket(r.Context(), taskbridge.Principal{Subject: "alice"}, open, nil).ServeStream(w, r)
	}))
	defer ts.Close()

	store.CreateTask(ctx, taskbridge.NewTask{ID: "task_123", Owner: "alice", ClientRequestID: "r1", Type: "job", Input: json.RawMessage(`null`), CreatedAt: time.Now()})
	store.Append(ctx, "task_123", taskbridge.Append{Type: taskbridge.EventStarted, Payload: json.RawMessage(`{}`), Status: taskbridge.StatusRunning})
	store.Append(ctx, "task_123", taskbridge.Append{Type: taskbridge.EventMessage, Payload: json.RawMessage(`{"message":"half way"}`)})
	store.Append(ctx, "task_123", taskbridge.Append{Type: taskbridge.EventCompleted, Payload: json.RawMessage(`{"result":42}`), Status: taskbridge.StatusCompleted})

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.WriteJSON(map[string]any{"action": "subscribe", "taskId": "task_123", "lastEventId": "1"})
	for {
		var f struct{ Type, EventID string }
		if err := c.ReadJSON(&f); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				fmt.Println("closed", ce.Code, ce.Text)
			}
			return
		}
		fmt.Println(strings.TrimSpace(f.Type + " " + f.EventID))
	}
	// Output:
	// SUBSCRIPTION_CONFIRMED
	// TASK_MESSAGE 2
	// TASK_COMPLETED 3
	// closed 1000 task ended
}
