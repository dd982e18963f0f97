package services

import (
	"context"
	"path"
	"reflect"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskbridge-go/taskbridge"
)

// ObservedStore returns s with its appends and reads timed into m
// (Metrics.StoreCall) under the name of the package that implements s
// ("memory", "postgres"), and, with a tracer, made child spans of the span
// in their context. It forwards the Store methods only: a caller that asks
// s for an optional interface (taskbridge.Preparer, say) asks the store it
// wrapped. With neither metrics nor a tracer it returns s.
func ObservedStore(s taskbridge.Store, m taskbridge.Metrics, tracer trace.Tracer) taskbridge.Store {
	if _, nop := m.(taskbridge.NopMetrics); (nop || m == nil) && tracer == nil {
		return s
	}
	return &observedStore{Store: s, metrics: orNop(m), tracer: tracer, name: storeName(s)}
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
	tracer  trace.Tracer // nil: no spans
	name    string
}

func (o *observedStore) Append(ctx context.Context, taskID string, a taskbridge.Append) (taskbridge.Event, error) {
	ctx, c := o.begin(ctx, taskbridge.StoreAppend, taskID)
	e, err := o.Store.Append(ctx, taskID, a)
	o.end(c, err)
	return e, err
}

func (o *observedStore) ReadAfter(ctx context.Context, taskID string, after uint64, limit, maxBytes int) ([]taskbridge.Event, error) {
	ctx, c := o.begin(ctx, taskbridge.StoreRead, taskID)
	events, err := o.Store.ReadAfter(ctx, taskID, after, limit, maxBytes)
	o.end(c, err)
	return events, err
}

// storeCall is a store call being observed.
type storeCall struct {
	op    taskbridge.StoreOp
	start time.Time
	span  trace.Span // nil without a tracer
}

// begin starts timing a call, and its span, which the returned context
// carries.
func (o *observedStore) begin(ctx context.Context, op taskbridge.StoreOp, taskID string) (context.Context, storeCall) {
	c := storeCall{op: op, start: time.Now()}
	if o.tracer != nil {
		ctx, c.span = o.tracer.Start(ctx, "store."+string(op), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("taskbridge.store", o.name), attribute.String("taskbridge.task.id", taskID)))
	}
	return ctx, c
}

// end records the call's time and ends its span.
func (o *observedStore) end(c storeCall, err error) {
	o.metrics.StoreCall(o.name, c.op, time.Since(c.start), err != nil)
	if c.span != nil {
		endSpan(c.span, err)
	}
}
