package ws_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/gen"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
)

// Each round races a task's 1,000 appends against the start of a
// subscription with a random cursor among the events appended so far (or
// none), and requires exactly the events after the cursor, in order, then
// the normal close.
func TestGapFreeWhileAppending(t *testing.T) {
	t.Parallel()
	const rounds, n = 100, 1000
	e := newEnv(t, ws.Settings{})
	for round := range rounds {
		id := e.newTask("alice")
		c := e.dial()
		appended := make(chan error, 1)
		go func() { appended <- appendAll(e, id, n) }()
		var cursor any
		var after uint64
		if rand.IntN(10) > 0 {
			task, err := e.store.GetTask(t.Context(), id)
			require.NoError(t, err)
			after = rand.Uint64N(task.LastEventID + 1) // a cursor a client may hold
			cursor = taskbridge.FormatEventID(after)
		}
		subscribe(t, c, id, cursor)
		confirmed(t, c, id)
		ids, ce := events(t, c)
		require.NoError(t, <-appended)
		require.Equal(t, span(after+1, n), ids, "round %d, cursor %v", round, cursor)
		requireClose(t, ce, gen.CloseNormalClosure, "")
		require.NoError(t, c.Close())
	}
}

// appendAll appends TASK_STARTED, n-2 messages and TASK_COMPLETED.
func appendAll(e *env, taskID string, n int) error {
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		typ := taskbridge.EventMessage
		switch i {
		case 1:
			typ = taskbridge.EventStarted
		case n:
			typ = taskbridge.EventCompleted
		}
		if _, err := e.store.Append(ctx, taskID, appendOf(typ, "note")); err != nil {
			return err
		}
	}
	return nil
}
