package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain builds nothing by itself: the end-to-end tests build the host
// once into binDir (removed after the tests). It fails the package's tests
// when a goroutine outlives them.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "taskbridge-temporal-host-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
