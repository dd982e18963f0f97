package services

import (
	"context"
	"path"
	"reflect"
	"time"

	"github.com/taskbridge-go/taskbridge"
)

// ObservedStore returns s with its appends and reads timed into m
// (Metrics.StoreCall), under the name of the package that implements s
// ("memory", "postgres"). It forwards the Store methods only: a caller
// that asks s for an optional interface (taskbridge.Preparer, say) asks the
// store it wrapped.
func ObservedStore(s taskbridge.Store, m taskbridge.Metrics) taskbridge.Store {
	if _, ok := m.(taskbridge.NopMetrics); ok || m == nil {
		return s
	}
	return &observedStore{Store: s, metrics: m, name: storeName(s)}
}

// storeName is the last element of the package path of s's type.
func storeName(s taskbridge.Store) string {
	t := reflect.TypeOf(s)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == "" {
		return "unknown"
	}
	return path.Base(t.PkgPath())
}

type observedStore struct {
	taskbridge.Store
	metrics taskbridge.Metrics
	name    string
}

func (o *observedStore) Append(ctx context.Context, taskID string, a taskbridge.Append) (taskbridge.Event, error) {
	start := time.Now()
	e, err := o.Store.Append(ctx, taskID, a)
	o.metrics.StoreCall(o.name, taskbridge.StoreAppend, time.Since(start), err != nil)
	return e, err
}

func (o *observedStore) ReadAfter(ctx context.Context, taskID string, after uint64, limit, maxBytes int) ([]taskbridge.Event, error) {
	start := time.Now()
	events, err := o.Store.ReadAfter(ctx, taskID, after, limit, maxBytes)
	o.metrics.StoreCall(o.name, taskbridge.StoreRead, time.Since(start), err != nil)
	return events, err
}
