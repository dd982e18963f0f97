package ws_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/runtime/hub"
	"github.com/taskbridge-go/taskbridge/runtime/ws"
)

// strictClient returns node and the strict client script, or skips the
// test (fails it in CI) without them.
func strictClient(t *testing.T) (node, script string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("..", "..", "node_modules", "ws", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the strict frame check: %v", err)
		}
		t.Skipf("needs node and node_modules/ws (npm ci at the repository root): %v", err)
	}
	script, err = filepath.Abs(filepath.Join("testdata", "strict-client.mjs"))
	require.NoError(t, err)
	return node, script
}

// clientReport is what strict-client.mjs prints.
type clientReport struct {
	Messages []struct {
		Type    string  `json:"type"`
		EventID *string `json:"eventId"`
		Bytes   int     `json:"bytes"`
		SHA256  string  `json:"sha256"`
	} `json:"messages"`
	Pings, Pongs int
	CloseCode    int
	Error        *string
}

// TestFramesPassAStrictParser drives the hand-built frame writer with every
// length encoding (7-bit, 16-bit and 64-bit, at their edges), with batches
// that cross the flush size, while the server pings every millisecond and
// the client pings back, so that control frames from both of the session's
// writers interleave with the data frames; Node's ws parses every byte and
// must see each event whole, in order, and the normal close.
func TestFramesPassAStrictParser(t *testing.T) {
	t.Parallel()
	node, script := strictClient(t)
	e := newEnv(t, ws.Settings{PingInterval: time.Millisecond, BatchSize: 64})
	id := e.newTask("alice")
	ctx := t.Context()
	// Payload sizes of the message text; the envelope adds about 120 bytes,
	// so these cover both sides of 125/126 and 65535/65536 frames.
	sizes := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 65400, 65410, 65415, 65420, 65450, 1 << 20, 3<<20 + 7}
	for i := range 300 {
		sizes = append(sizes, (i*7919)%3000) // many small frames: batches across the flush size
	}
	_, err := e.store.Append(ctx, id, appendOf(taskbridge.EventStarted, "go"))
	require.NoError(t, err)
	for _, n := range sizes {
		_, err := e.store.Append(ctx, id, appendOf(taskbridge.EventMessage, strings.Repeat("é", n/2)+strings.Repeat("x", n%2)))
		require.NoError(t, err)
	}
	_, err = e.store.Append(ctx, id, appendOf(taskbridge.EventCompleted, "done"))
	require.NoError(t, err)

	url := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/api/v1/tasks/ws?access_token=alice"
	runCtx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	out, err := exec.CommandContext(runCtx, node, script, url, id).Output()
	require.NoError(t, err, "%s", out)
	var report clientReport
	require.NoError(t, json.Unmarshal(out, &report), "%s", out)
	if report.Error != nil {
		t.Fatalf("the strict parser refused a frame: %s", *report.Error)
	}
	require.Equal(t, 1000, report.CloseCode)

	stored, err := e.store.ReadAfter(ctx, id, 0, len(sizes)+10, 0)
	require.NoError(t, err)
	require.Len(t, report.Messages, len(stored)+1, "the confirmation and every event")
	require.Equal(t, "SUBSCRIPTION_CONFIRMED", report.Messages[0].Type)
	for i, ev := range stored {
		got := report.Messages[i+1]
		want := hub.EncodeJSON(ev)
		sum := sha256.Sum256(want)
		require.Equal(t, taskbridge.FormatEventID(ev.ID), *got.EventID, "in order")
		require.Equal(t, len(want), got.Bytes, "event %d whole", ev.ID)
		require.Equal(t, hex.EncodeToString(sum[:]), got.SHA256, "event %d unchanged", ev.ID)
	}
	t.Logf("pings %d pongs %d messages %d", report.Pings, report.Pongs, len(report.Messages))
	require.Positive(t, report.Pings, "the server's pings came between the data frames")
	require.Positive(t, report.Pongs, "the session answered the client's pings meanwhile")
	e.waitEnded(1)
}
