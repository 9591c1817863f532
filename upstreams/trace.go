package upstreams

import (
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracer opens a client span per request to an upstream.
var tracer = otel.Tracer("idp/upstreams")

// traced is a RoundTripper that gives every request to an upstream
// (discovery, JWKS, token, userinfo, GitHub's API, revocation) a client
// span under the request that caused it, and sends the trace context
// along (W3C traceparent): an operator sees which upstream made a sign-in
// slow. Both are no-ops unless tracing is on. The span names the method,
// host and path only: never a query, a header or a body, where codes,
// tokens and secrets travel.
type traced struct{ next http.RoundTripper }

func (t traced) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tracer.Start(r.Context(), r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Host)))
	defer span.End()
	r = r.Clone(ctx)
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	return resp, nil
}

// tracedClient is c with traced requests.
func tracedClient(c *http.Client) *http.Client {
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out := *c
	out.Transport = traced{next: next}
	return &out
}
