// Package parktest lets the transports' tests see their loops park: a
// parked loop holds no goroutine, so the function it runs in is on no
// goroutine's stack.
package parktest

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Running counts the goroutines of the process whose stack holds a call of
// fn, named as runtime.Stack prints it ("ws.(*session).deliver"). Tests
// that use it do not run in parallel, since it counts the whole process.
func Running(fn string) int {
	buf := make([]byte, 1<<22)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), fn+"(")
}

// WaitParked waits until no goroutine runs fn, and fails t after 30 s.
func WaitParked(t testing.TB, fn string) {
	t.Helper()
	require.Eventually(t, func() bool { return Running(fn) == 0 }, 30*time.Second, time.Millisecond,
		"idle streams kept the goroutines of %s", fn)
}
