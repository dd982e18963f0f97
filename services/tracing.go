package services

import (
	"context"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing: with Config.Tracer set, every API request is a server span named
// by its operation id (a child of the caller's span when the request
// carries one, read by Config.Propagator), the create span's context is kept
// with the task (taskbridge.NewTask.TraceParent) for the executor to
// continue, reports are spans of their own and the store's appends and
// reads are child spans. Without a tracer nothing of this runs.

// traced is the middleware of an operation's routes that makes its span.
func (a *API) traced(operationID string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := a.cfg.Propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span := a.cfg.Tracer.Start(ctx, operationID, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					attribute.String("http.request.method", req.Method),
					attribute.String("http.route", c.Path()),
				))
			defer span.End()
			if id := c.Param("taskId"); id != "" {
				span.SetAttributes(attribute.String("taskbridge.task.id", id))
			}
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			status := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, "")
			}
			return err
		}
	}
}

// TraceParent is the W3C traceparent of the span in ctx, "" when there is
// none.
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// endSpan ends span, marked as failed when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
