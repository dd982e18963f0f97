package track

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestShutdownWaitsForWhatItStops: an item asked to stop ends, and
// Shutdown returns once it is removed; nothing is added afterwards.
func TestShutdownWaitsForWhatItStops(t *testing.T) {
	var s Set[int]
	require.True(t, s.Add(1))
	stopped := make(chan int, 1)
	go func() { s.Remove(<-stopped) }()
	kill := func(int) { t.Error("an item that ends is not killed") }
	require.NoError(t, s.Shutdown(context.Background(), func(i int) { stopped <- i }, kill))
	require.False(t, s.Add(2), "no item is added after Shutdown")
}

// TestShutdownKillsWhatOutlastsIt: past its context Shutdown kills the
// items left and returns the context's error.
func TestShutdownKillsWhatOutlastsIt(t *testing.T) {
	var s Set[string]
	require.True(t, s.Add("stuck"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var killed []string
	require.ErrorIs(t, s.Shutdown(ctx, nil, func(item string) { killed = append(killed, item) }), context.Canceled)
	require.Equal(t, []string{"stuck"}, killed)
	s.Remove("stuck")
	require.NoError(t, s.Shutdown(context.Background(), nil, nil), "once removed, nothing is left to wait for")
}
