package plumbing

import (
	"log/slog"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing: one server span per request, named by method and route
// template (never the raw path, which may hold ids, nor the query, which
// holds codes and tokens). The tracer is the global one, a no-op unless
// tracing was configured; the database, signing, hashing and outbound
// calls of the request open their child spans from its context.

var tracer = otel.Tracer("idp/server")

// Trace opens the request's span, continuing a W3C traceparent when the
// caller sent one, and records the status. It runs outside AccessLog,
// which writes error responses, so the status is final when it ends.
func Trace(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		ctx := otel.GetTextMapPropagator().Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
		defer span.End()
		if !span.IsRecording() {
			return next(c)
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

// traceAttrs are the trace and span ids of a request, for its log line.
func traceAttrs(c echo.Context) []slog.Attr {
	sc := trace.SpanContextFromContext(c.Request().Context())
	if !sc.IsValid() {
		return nil
	}
	return []slog.Attr{slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String())}
}
