package upstreams

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TestUpstreamRequestsTraced: a request to an upstream gets a client
// span under the caller's, named by method and path only (never the
// query, where codes and tokens travel), with the status, and the trace
// context goes along to the upstream.
func TestUpstreamRequestsTraced(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	var got string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusTeapot)
	}))
	defer up.Close()
	c := tracedClient(&http.Client{})
	ctx, parent := otel.Tracer("test").Start(context.Background(), "sign-in")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, up.URL+"/token?code=secret-code", strings.NewReader("code_verifier=v"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()

	var span sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			span = s
		}
	}
	if span == nil || span.Name() != "POST /token" || span.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("client span %v", span)
	}
	for _, a := range span.Attributes() {
		if strings.Contains(a.Value.String(), "secret-code") {
			t.Errorf("attribute %s carries the query", a.Key)
		}
		if a.Key == "http.response.status_code" && a.Value.AsInt64() != http.StatusTeapot {
			t.Errorf("status %d", a.Value.AsInt64())
		}
	}
	if !strings.Contains(got, span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q does not carry the trace", got)
	}
	if _, ok := NewService(nil, nil, Config{SealKey: make([]byte, 32)}).cfg.HTTPClient.Transport.(traced); !ok {
		t.Error("the Service's requests are not traced")
	}
}
