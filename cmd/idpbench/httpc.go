package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// newTransport is tuned so the load client is not the bottleneck: one
// kept-alive connection per worker, no compression (both idp and the
// bare reference then serve the same identity bytes), no proxy.
func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// target is one server under load (idp, or the bare reference handler)
// and what every worker shares about it.
type target struct {
	cfg       *Config
	issuer    string
	endpoints endpoints
	tr        *http.Transport
	jwks      []byte // as first fetched; later answers are compared to it
	discovery []byte
	ver       *verifier
	samples   atomic.Int64
	// metricsURL is idp's Prometheus endpoint, read before and after each
	// measured window; empty for the bare reference handler.
	metricsURL string
	// pid is the server's process id (--server-pid): its CPU time is read
	// from /proc, for a server without idp's /metrics. 0 for none.
	pid int

	mixNames   []string
	mixWeights []int
	mixTotal   int
}

// endpoints are the URLs discovery names that idpbench calls.
type endpoints struct {
	Issuer    string `json:"issuer"`
	Authorize string `json:"authorization_endpoint"`
	Token     string `json:"token_endpoint"`
	UserInfo  string `json:"userinfo_endpoint"`
	JWKS      string `json:"jwks_uri"`
}

// connect fetches discovery and the JWKS once and checks that every
// endpoint is on the issuer's own origin: idpbench sends traffic nowhere
// else.
func connect(ctx context.Context, cfg *Config) (*target, error) {
	t := &target{cfg: cfg, issuer: strings.TrimSuffix(cfg.Issuer, "/"), tr: newTransport(cfg.Concurrency)}
	t.metricsURL = t.issuer + "/metrics"
	t.pid = cfg.ServerPID
	c := t.client(nil)
	var err error
	if t.discovery, err = fetch(ctx, c, t.issuer+"/.well-known/openid-configuration"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(t.discovery, &t.endpoints); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if t.endpoints.Issuer != t.issuer {
		return nil, fmt.Errorf("discovery names issuer %q, not %q", t.endpoints.Issuer, t.issuer)
	}
	for _, u := range []string{t.endpoints.Authorize, t.endpoints.Token, t.endpoints.UserInfo, t.endpoints.JWKS} {
		if !sameOrigin(u, t.issuer) {
			return nil, fmt.Errorf("discovery endpoint %q is not on %s; refusing to send traffic there", u, t.issuer)
		}
	}
	if t.jwks, err = fetch(ctx, c, t.endpoints.JWKS); err != nil {
		return nil, err
	}
	refetch := func() ([]byte, error) { return fetch(context.Background(), c, t.endpoints.JWKS) }
	if t.ver, err = newVerifier(t.issuer, t.jwks, refetch); err != nil {
		return nil, err
	}
	t.ver.audience = cfg.AccessAudience
	return t, nil
}

// fetch GETs u and returns the body of a 200.
func fetch(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b, nil
}

// client returns an http.Client on the shared transport that never follows
// redirects (the flows inspect every hop, and the redirect_uri is never
// contacted); jar may be nil.
func (t *target) client(jar http.CookieJar) *http.Client {
	return &http.Client{Transport: t.tr, Jar: jar, Timeout: t.cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// browser returns a client with a fresh cookie jar, as a new browser.
func (t *target) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return t.client(jar)
}

// sample reports whether this token or answer is one of the 1 in N verified.
func (t *target) sample() bool {
	n := int64(t.cfg.VerifySample)
	return n > 0 && t.samples.Add(1)%n == 0
}

func sameOrigin(u, issuer string) bool {
	a, err1 := url.Parse(u)
	b, err2 := url.Parse(issuer)
	return err1 == nil && err2 == nil && a.Scheme == b.Scheme && a.Host == b.Host
}

// send does one request and reads the whole body, so the connection is
// reused; a request that got no answer is a transport failure.
func (w *worker) send(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	w.nreq++
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, transportFailure(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, transportFailure(err)
	}
	return resp, body, nil
}

func (w *worker) get(c *http.Client, u string, bearer string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, protocolFailure("GET %s: %v", u, err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return w.send(c, req)
}

// postForm posts form to u, with client_secret_basic when cred is set
// (id and secret form-urlencoded first, RFC 6749 §2.3.1).
func (w *worker) postForm(c *http.Client, u string, form url.Values, cred *Cred) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, protocolFailure("POST %s: %v", u, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cred != nil {
		req.SetBasicAuth(url.QueryEscape(cred.ID), url.QueryEscape(cred.Secret))
	}
	return w.send(c, req)
}

// expectJSON checks a 200 JSON answer and decodes it into v.
func expectJSON(resp *http.Response, body []byte, v any) error {
	if resp.StatusCode != http.StatusOK {
		return statusFailure(resp.StatusCode, body)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil {
		return protocolFailure("decode %s answer: %v", resp.Request.URL.Path, err)
	}
	return nil
}
