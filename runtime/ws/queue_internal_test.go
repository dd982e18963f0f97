package ws

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTheSendQueueReusesItsArraysAndDropsThemWhenIdle: a busy queue swaps
// two arrays between its sides, and an idle one holds none.
func TestTheSendQueueReusesItsArraysAndDropsThemWhenIdle(t *testing.T) {
	q := newSendQueue()
	q.push(outFrame{data: []byte("a")})
	q.push(outFrame{data: []byte("b")})
	require.Len(t, q.ready, 1, "one wake-up for both")
	require.Equal(t, 2, q.len())

	batch := q.take()
	require.Equal(t, []outFrame{{data: []byte("a")}, {data: []byte("b")}}, batch)
	require.Zero(t, q.len())
	q.push(outFrame{data: []byte("c")}) // while the batch is written
	q.done(batch)
	require.Nil(t, batch[0].data, "a batch written holds no frame")

	next := q.take()
	require.Equal(t, []outFrame{{data: []byte("c")}}, next)
	q.done(next)
	q.push(outFrame{data: []byte("d")})
	require.Equal(t, cap(batch), cap(q.frames), "the first array is reused")
	require.Same(t, &batch[:1][0], &q.frames[:1][0])

	q.release()
	require.NotNil(t, q.frames, "an array holding a frame stays")
	q.done(q.take())
	q.release()
	require.Nil(t, q.frames)
	require.Nil(t, q.spare)
}
