package ws

import (
	"sync"
	"time"
)

// outFrame is a text frame to write.
type outFrame struct {
	data []byte
	// appended is when the live event the frame carries was appended, for
	// its delivery lag; zero for a replayed event and any other frame.
	appended time.Time
}

// sendQueue holds the frames the control loop hands the writer. Its arrays
// are swapped between the two sides, so a busy session allocates none, and
// dropped once the session idles (release), so an idle one holds none: a
// channel of SendBuffer frames would hold 6 KiB for as long as the session
// lasts.
type sendQueue struct {
	ready chan struct{} // frames were pushed since the writer last took them

	mu     sync.Mutex
	frames []outFrame // guarded by mu: what waits, in order
	spare  []outFrame // guarded by mu: an emptied array for frames to reuse
}

func newSendQueue() *sendQueue {
	return &sendQueue{ready: make(chan struct{}, 1)}
}

// push adds a frame and wakes the writer.
func (q *sendQueue) push(frame outFrame) {
	q.mu.Lock()
	q.frames = append(q.frames, frame)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// len is the number of frames waiting.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames)
}

// take removes and returns every frame waiting; the writer gives the batch
// back with done once it has written it.
func (q *sendQueue) take() []outFrame {
	q.mu.Lock()
	defer q.mu.Unlock()
	batch := q.frames
	q.frames, q.spare = q.spare, nil
	return batch
}

// done takes back the array of a batch written, without its frames.
func (q *sendQueue) done(batch []outFrame) {
	clear(batch)
	q.mu.Lock()
	if q.spare == nil {
		q.spare = batch[:0]
	}
	q.mu.Unlock()
}

// release drops the arrays that hold no frame.
func (q *sendQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) == 0 {
		q.frames = nil
	}
	q.spare = nil
}
