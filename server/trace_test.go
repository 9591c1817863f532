package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"idp/app"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver (POST /v1/traces,
// protobuf), as a collector would be.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs []*commonpb.KeyValue // resource attributes
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var msg coltrace.ExportTraceServiceRequest
		if req.URL.Path != "/v1/traces" || proto.Unmarshal(body, &msg) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			r.attrs = append(r.attrs, rs.GetResource().GetAttributes()...)
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// TestTracesOfACodeFlow exports the spans of a whole authorization code
// flow to an in-process collector and checks their tree: a server span
// per request with database children, the password hashing under the
// sign-in, the signing under the token request; and that no attribute
// anywhere holds a secret.
func TestTracesOfACodeFlow(t *testing.T) {
	rec := newOTLPReceiver(t)
	stop, err := app.StartTracing(context.Background(), app.Tracing{Endpoint: rec.srv.URL, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	res := walk(t, env, b, authorizeURL(firstID, map[string]string{"scope": "openid email offline_access"}), testEmail, testPassword)
	code := res.loc.Query().Get("code")
	tok := f.exchange(t, firstID, code, "")
	if tok.resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %s", tok.raw)
	}
	// A request that continues the caller's trace.
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/.well-known/openid-configuration", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if err := stop(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	byID := map[string]*tracepb.Span{}
	for _, s := range rec.spans {
		byID[string(s.SpanId)] = s
	}
	// root walks up to the server span a span belongs to.
	root := func(s *tracepb.Span) *tracepb.Span {
		for s != nil && s.Kind != tracepb.Span_SPAN_KIND_SERVER {
			s = byID[string(s.ParentSpanId)]
		}
		return s
	}
	children := map[string][]string{} // server span name → descendant names
	servers := map[string]*tracepb.Span{}
	for _, s := range rec.spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			servers[s.Name] = s
			continue
		}
		if r := root(s); r != nil {
			children[r.Name] = append(children[r.Name], s.Name)
		}
	}
	for _, want := range []struct{ server, child string }{
		{"GET /authorize", "db insert auth_requests"},
		{"POST /login", "argon2id verify"},
		{"POST /login", "db insert sessions"},
		{"POST /token", "sign RS256"},
		{"POST /token", "db "},
	} {
		if servers[want.server] == nil {
			t.Errorf("no server span %q; spans: %v", want.server, names(rec.spans))
			continue
		}
		found := false
		for _, c := range children[want.server] {
			found = found || strings.HasPrefix(c, want.child)
		}
		if !found {
			t.Errorf("%q has no child %q: %v", want.server, want.child, children[want.server])
		}
	}
	if s := servers["GET /.well-known/openid-configuration"]; s == nil ||
		strings.ToLower(hexID(s.TraceId)) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the caller's traceparent was not continued")
	}
	if s := servers["POST /token"]; s != nil && attr(s, "http.response.status_code") != "200" {
		t.Errorf("token span status %q", attr(s, "http.response.status_code"))
	}

	// No secret in any attribute, event or name.
	secrets := map[string]string{"password": testPassword, "code": code, "email": testEmail,
		"access token": tok.str("access_token"), "refresh token": tok.str("refresh_token"), "ID token": tok.str("id_token"),
		"client secret": f.firstSecret}
	u, _ := url.Parse(env.URL)
	for _, c := range b.Jar.Cookies(u) {
		secrets["cookie "+c.Name] = c.Value
	}
	var texts []string
	for _, kv := range rec.attrs {
		texts = append(texts, kv.Key+"="+kv.GetValue().String())
	}
	for _, s := range rec.spans {
		texts = append(texts, s.Name)
		for _, kv := range s.Attributes {
			texts = append(texts, kv.Key+"="+kv.GetValue().String())
		}
		for _, e := range s.Events {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Key+"="+kv.GetValue().String())
			}
		}
	}
	for what, v := range secrets {
		if v == "" || len(v) < 6 {
			continue
		}
		for _, s := range texts {
			if strings.Contains(s, v) {
				t.Errorf("the %s appears in a span: %q", what, s)
			}
		}
	}
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key != key {
			continue
		}
		if v, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			return strconv.FormatInt(v.IntValue, 10)
		}
		return kv.Value.GetStringValue()
	}
	return ""
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}
