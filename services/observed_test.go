package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/services"
	"github.com/taskbridge-go/taskbridge/stores/memory"
)

// countingMetrics counts store calls.
type countingMetrics struct {
	taskbridge.NopMetrics
	calls map[taskbridge.StoreOp]int
	store string
}

func (m *countingMetrics) StoreCall(store string, op taskbridge.StoreOp, _ time.Duration, _ bool) {
	m.store = store
	m.calls[op]++
}

// TestTheObservedStoreTimesAppendsAndReadsWithoutAllocating: the store's
// name comes from its package, each call is counted once, and timing a
// call costs no allocation beyond the store's own.
func TestTheObservedStoreTimesAppendsAndReadsWithoutAllocating(t *testing.T) {
	m := &countingMetrics{calls: map[taskbridge.StoreOp]int{}}
	raw := memory.New()
	s := services.ObservedStore(raw, m, nil)
	ctx := context.Background()
	_, _, err := s.CreateTask(ctx, taskbridge.NewTask{ID: "t", Owner: "o", ClientRequestID: "r", Type: "job", Input: []byte("null")})
	require.NoError(t, err)
	_, err = s.Append(ctx, "t", taskbridge.Append{Type: taskbridge.EventStarted, Payload: []byte("{}"), Status: taskbridge.StatusRunning})
	require.NoError(t, err)
	_, err = s.ReadAfter(ctx, "t", 0, 10, 0)
	require.NoError(t, err)
	require.Equal(t, "memory", m.store)
	require.Equal(t, map[taskbridge.StoreOp]int{taskbridge.StoreAppend: 1, taskbridge.StoreRead: 1}, m.calls)

	direct := testing.AllocsPerRun(200, func() { _, _ = raw.ReadAfter(ctx, "t", 0, 10, 0) })
	observed := testing.AllocsPerRun(200, func() { _, _ = s.ReadAfter(ctx, "t", 0, 10, 0) })
	require.Equal(t, direct, observed, "observing adds no allocation")

	require.Same(t, raw, services.ObservedStore(raw, taskbridge.NopMetrics{}, nil), "nothing to observe: the store itself")
}
