package postgres_test

import (
	"testing"

	"github.com/taskbridge-go/taskbridge"
	"github.com/taskbridge-go/taskbridge/stores/postgres"
	"github.com/taskbridge-go/taskbridge/stores/storetest"
)

// BenchmarkStore runs the workloads every store is measured with, each in a
// fresh schema. The pool has the default size (pgxpool: the larger of 4
// and the number of CPUs) unless the URL sets pool_max_conns.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) taskbridge.Store { return openStore(b, postgres.Config{}) })
}
