package app

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Tracing is OpenTelemetry export over OTLP/HTTP, off unless configured:
// then the packages' spans (one per HTTP request, with children for
// database statements, signing, password hashing and outbound calls) go
// to the collector. Spans carry routes, table names, algorithms and key
// ids, never a secret, token, code, password or email.
type Tracing struct {
	// Endpoint is the collector's base URL (e.g. http://otel:4318), or
	// "env" to let the exporter read OTEL_EXPORTER_OTLP_ENDPOINT and the
	// other standard OTEL_EXPORTER_OTLP_* variables.
	Endpoint string
	// Version is reported as service.version.
	Version string
}

// StartTracing installs the global tracer provider and the W3C trace
// context propagator, and returns what flushes and stops them.
func StartTracing(ctx context.Context, t Tracing) (func(context.Context) error, error) {
	var opts []otlptracehttp.Option
	if t.Endpoint != "env" {
		// A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is: traces go to its
		// /v1/traces (a URL with a path of its own is used as it is).
		u, err := url.Parse(t.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("OTLP endpoint: %w", err)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("idp"), semconv.ServiceVersion(t.Version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(2*time.Second)),
		sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}
