package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"io"
	"net/http"
	"net/url"
)

// maxDocument bounds discovery and JWKS bodies: a few keys take a few KB,
// and a hostile or broken server must not exhaust memory.
const maxDocument = 1 << 20

// get performs a GET and returns the response with its body read (at most
// maxDocument bytes) and closed.
func get(ctx context.Context, c *http.Client, u string, hdr http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	// A client span per fetch, its trace context sent along (W3C
	// traceparent); both are no-ops unless the program set up tracing.
	ctx, span := tracer.Start(ctx, "GET "+req.URL.Path, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", http.MethodGet), attribute.String("server.address", req.URL.Host)))
	defer span.End()
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		return nil, nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", u, err)
	}
	if len(body) > maxDocument {
		return nil, nil, fmt.Errorf("%s: response larger than %d bytes", u, maxDocument)
	}
	return resp, body, nil
}

// discover reads the issuer's metadata (OIDC Discovery 1.0 §4) and returns
// its jwks_uri. The document's issuer must equal the configured issuer
// exactly (§4.3): otherwise a document served from the wrong place could
// point the verifier at someone else's keys.
func discover(ctx context.Context, cfg Config) (string, error) {
	u := cfg.discoveryURL()
	resp, body, err := get(ctx, cfg.HTTPClient, u, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: GET %s: status %d", u, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery: decode %s: %w", u, err)
	}
	if doc.Issuer != cfg.Issuer {
		return "", fmt.Errorf("discovery: issuer %q in the document is not the configured %q", doc.Issuer, cfg.Issuer)
	}
	if j, err := url.Parse(doc.JWKSURI); err != nil || !j.IsAbs() {
		return "", errors.New("discovery: jwks_uri is missing or not an absolute URL")
	}
	return doc.JWKSURI, nil
}

// tracer opens the fetch spans.
var tracer = otel.Tracer("idp/verifier")
