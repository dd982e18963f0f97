package memory

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
)

// TestEventLogChunks walks windows that start, end and cross chunk
// boundaries; the conformance suite checks the log through the store.
func TestEventLogChunks(t *testing.T) {
	t.Parallel()
	var l eventLog
	_, ok := l.last()
	require.False(t, ok)
	const n = 3*chunkSize + 7
	for i := 1; i <= n; i++ {
		l.add(taskbridge.Event{ID: uint64(i)})
		last, ok := l.last()
		require.True(t, ok)
		require.Equal(t, uint64(i), last.ID)
	}
	require.Equal(t, n, l.len())
	for i, c := range l.chunks[:len(l.chunks)-1] {
		require.Len(t, c, chunkSize, "chunk %d must be full", i)
	}
	for _, w := range [][2]int{
		{0, n}, {0, 1}, {0, chunkSize}, {chunkSize - 1, chunkSize + 1}, {chunkSize, 2 * chunkSize},
		{chunkSize + 3, 3*chunkSize + 2}, {n - 1, n}, {5, 5},
	} {
		var got []uint64
		for e := range l.between(w[0], w[1]) {
			got = append(got, e.ID)
		}
		var want []uint64
		for id := w[0] + 1; id <= w[1]; id++ {
			want = append(want, uint64(id))
		}
		require.True(t, slices.Equal(want, got), "window %v", w)
	}
	for e := range l.between(0, n) {
		require.Equal(t, uint64(1), e.ID)
		break
	}
}
