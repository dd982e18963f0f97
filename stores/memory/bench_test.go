package memory_test

import (
	"testing"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/memory"
	"github.com/taskbridge-go/taskbridge/stores/storetest"
)

// BenchmarkStore runs the workloads every store is measured with.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(*testing.B) taskbridge.Store { return memory.New() })
}
