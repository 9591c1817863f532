package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
	"idp/upstreams"
)

// Forged and mixed-up upstream responses across two upstreams (issue #18),
// beyond the single-upstream cases of TestUpstreamForgedResponses. a is
// the provider under test; x and y are two idps it trusts as upstreams.
// y sits behind a reverse proxy that is y's issuer, so everything a asks
// of y passes through it, and a test can make "y" answer what an attacker
// in y's place would: an altered signature, another client's ID token,
// another flow's, x's. Each must end in the clear page, an audit
// signin.failure with reason=forged, and no user or link made.

// tamperProxy passes every request on to its target, except that while a
// rule is set the JSON body of the responses to one path is rewritten.
type tamperProxy struct {
	*httptest.Server
	mu      sync.Mutex
	target  *httputil.ReverseProxy
	path    string
	rewrite func(body map[string]any)
	applied int
	// intercept, when set, sees every request first; when it answers
	// (returns true) the request does not reach the target.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// newTamperProxy starts the proxy; it answers 503 until setTarget.
func newTamperProxy(t *testing.T) *tamperProxy {
	p := &tamperProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		rp, intercept := p.target, p.intercept
		p.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		if rp == nil {
			http.Error(w, "not started yet", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *tamperProxy) setTarget(t *testing.T, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		ModifyResponse: p.modify,
	}
	p.mu.Lock()
	p.target = rp
	p.mu.Unlock()
}

// tamper sets the rule until t ends, and returns how often it applied.
func (p *tamperProxy) tamper(t *testing.T, path string, rewrite func(body map[string]any)) func() int {
	p.mu.Lock()
	p.path, p.rewrite, p.applied = path, rewrite, 0
	p.mu.Unlock()
	t.Cleanup(func() {
		p.mu.Lock()
		p.path, p.rewrite = "", nil
		p.mu.Unlock()
	})
	return func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.applied
	}
}

func (p *tamperProxy) modify(resp *http.Response) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rewrite == nil || resp.Request.URL.Path != p.path || resp.StatusCode != http.StatusOK {
		return nil
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return err
	}
	p.rewrite(body)
	p.applied++
	out, _ := json.Marshal(body)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// mixup is a with upstreams x (direct) and y (behind the proxy), and the
// registrations at a: "x", "y", and "y-liar" (also y, first asked for its
// discovery while the proxy lies about it).
type mixup struct {
	*realHarness
	x, y          *servertest.Env
	proxy         *tamperProxy
	xSecret       string // idp-a's at x
	otherSecret   string // another client's at y
	otherRedirect string
}

func newMixup(t *testing.T) *mixup {
	t.Helper()
	logs := &lockedBuffer{}
	a := servertest.New(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	x := servertest.New(t)
	proxy := newTamperProxy(t)
	y := servertest.New(t, func(c *server.Config) { c.Issuer = proxy.URL })
	proxy.setTarget(t, y.URL)

	m := &mixup{x: x, y: y, proxy: proxy, otherRedirect: testRedirect}
	_, m.xSecret = x.CreateClient(t, clients.Spec{ID: "idp-a", Trusted: true,
		RedirectURIs: []string{a.URL + upstreams.CallbackPath("x")}})
	_, ySecret := y.CreateClient(t, clients.Spec{ID: "idp-a", Trusted: true,
		RedirectURIs: []string{a.URL + upstreams.CallbackPath("y"), a.URL + upstreams.CallbackPath("y-liar")}})
	_, m.otherSecret = y.CreateClient(t, clients.Spec{ID: "other-app", Trusted: true, RedirectURIs: []string{testRedirect}})
	x.CreateUser(t, fedEmail, fedPassword)
	y.CreateUser(t, fedEmail, fedPassword)

	xUp := &realUpstream{issuer: x.URL, clientID: "idp-a", secret: m.xSecret, signIn: idpSignIn(x.URL)}
	yUp := &realUpstream{issuer: proxy.URL, clientID: "idp-a", secret: ySecret, signIn: idpSignIn(proxy.URL)}
	m.realHarness = &realHarness{a: a, up: yUp, byID: map[string]*realUpstream{"x": xUp, "y": yUp, "y-liar": yUp},
		rp: newRP(t, a, clients.Spec{ID: "rp", Trusted: true}), log: logs}
	for id, up := range m.byID {
		if _, err := a.App.Upstreams.Create(context.Background(), upstreams.Spec{ID: id, Name: "Corp " + id,
			Issuer: up.issuer, ClientID: up.clientID, Secret: up.secret, Scopes: []string{"email"}, JIT: true}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// allRows counts a's users and all upstream links.
func allRows(t *testing.T, env *servertest.Env) (usersN, links int64) {
	t.Helper()
	if err := env.DB.Gorm.Table("users").Count(&usersN).Error; err != nil {
		t.Fatal(err)
	}
	if err := env.DB.Gorm.Table("upstream_links").Count(&links).Error; err != nil {
		t.Fatal(err)
	}
	return usersN, links
}

// forged delivers cb and expects the forged-response page and audit, a
// log line saying why, and no user or link made by it.
func (m *mixup) forged(t *testing.T, br *http.Client, cb *url.URL, id, why string) {
	t.Helper()
	usersBefore, linksBefore := allRows(t, m.a)
	lines := logLines(m.log.String(), "upstream="+id+" ", why)
	m.refused(t, br, cb, id, http.StatusBadRequest, "This sign-in could not be completed", "forged")
	if logLines(m.log.String(), "upstream="+id+" ", why) != lines+1 {
		t.Errorf("a refused for another reason than %q:\n%s", why, m.log.String())
	}
	if n, l := allRows(t, m.a); n != usersBefore || l != linksBefore {
		t.Errorf("%d users, %d links after a forged response; %d and %d before", n, l, usersBefore, linksBefore)
	}
}

// idTokenAt runs a code flow of its own at an idp (issuer; the browser
// talks to it there, the code is redeemed at tokenURL) as clientID with
// the given nonce, and returns the ID token: a genuine one, for replaying
// where it does not belong.
func idTokenAt(t *testing.T, issuer, clientID, secret, redirect, nonce string) string {
	t.Helper()
	conf := oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect,
		Scopes:   []string{oidc.ScopeOpenID, "email"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	verifier := oauth2.GenerateVerifier()
	env := &servertest.Env{URL: issuer}
	loc := env.Authorize(t, env.Browser(t), conf.AuthCodeURL(rand.Text(), oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)),
		fedEmail, fedPassword)
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange at %s as %s: %v", issuer, clientID, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	return raw
}

// jwtClaims decodes a JWT's payload (no verification: the test made it).
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	var c map[string]any
	decodeJWT(t, raw, &c)
	return c
}

func TestUpstreamMixUpAndForgery(t *testing.T) {
	m := newMixup(t)
	acct := upstreamAccount{Email: fedEmail}

	t.Run("ID token with an altered signature", func(t *testing.T) {
		br, up := m.begin(t, "y")
		cb := m.upstreamSignIn(t, br, "y", up, acct)
		applied := m.proxy.tamper(t, "/token", func(body map[string]any) {
			body["id_token"] = flipSignature(t, body["id_token"].(string))
		})
		m.forged(t, br, cb, "y", "invalid signature")
		if applied() != 1 {
			t.Fatalf("the proxy altered %d token responses, want 1", applied())
		}
	})

	t.Run("ID token for another client of the same upstream", func(t *testing.T) {
		br, up := m.begin(t, "y")
		nonce := up.Query().Get("nonce")
		other := idTokenAt(t, m.proxy.URL, "other-app", m.otherSecret, m.otherRedirect, nonce)
		if c := jwtClaims(t, other); c["aud"] != "other-app" || c["nonce"] != nonce || c["iss"] != m.proxy.URL {
			t.Fatalf("the other client's ID token: %v", c) // only aud may differ from what a expects
		}
		cb := m.upstreamSignIn(t, br, "y", up, acct)
		applied := m.proxy.tamper(t, "/token", func(body map[string]any) { body["id_token"] = other })
		m.forged(t, br, cb, "y", "wrong audience")
		if applied() != 1 {
			t.Fatalf("the proxy swapped %d token responses, want 1", applied())
		}
	})

	t.Run("ID token of another flow (its nonce)", func(t *testing.T) {
		br1, up1 := m.begin(t, "y")
		cb1 := m.upstreamSignIn(t, br1, "y", up1, acct)
		br2, up2 := m.begin(t, "y")
		cb2 := m.upstreamSignIn(t, br2, "y", up2, acct)
		// The second flow finishes; the proxy keeps its ID token.
		var second string
		recorded := m.proxy.tamper(t, "/token", func(body map[string]any) { second, _ = body["id_token"].(string) })
		m.finish(t, br2, cb2)
		if recorded() != 1 { // also orders the read of second after the proxy's write
			t.Fatalf("the proxy saw %d token responses, want 1", recorded())
		}
		if c := jwtClaims(t, second); c["nonce"] != up2.Query().Get("nonce") || c["nonce"] == up1.Query().Get("nonce") {
			t.Fatalf("recorded ID token nonce %v", c["nonce"])
		}
		// The first flow's code is good, but the ID token it gets is the
		// second flow's: right signature, issuer, audience and user (now
		// linked), wrong nonce.
		applied := m.proxy.tamper(t, "/token", func(body map[string]any) { body["id_token"] = second })
		m.forged(t, br1, cb1, "y", "nonce mismatch")
		if applied() != 1 {
			t.Fatalf("the proxy swapped %d token responses, want 1", applied())
		}
	})

	t.Run("x's response at y's callback", func(t *testing.T) {
		for _, withIss := range []bool{true, false} {
			br, up := m.begin(t, "x")
			cb := m.upstreamSignIn(t, br, "x", up, acct)
			if cb.Query().Get("iss") != m.x.URL {
				t.Fatalf("x sent iss %q", cb.Query().Get("iss"))
			}
			atY := *cb
			atY.Path = upstreams.CallbackPath("y")
			if !withIss { // an attacker strips what gives it away
				q := atY.Query()
				q.Del("iss")
				atY.RawQuery = q.Encode()
			}
			state := upstreamStateCookie(t, br, m.a.URL)
			m.forged(t, br, &atY, "y", "unknown, used or expired state")
			// The state was spent: the response is no good at x's own
			// callback either, even with the state cookie put back.
			setUpstreamStateCookie(t, br, m.a.URL, state)
			m.forged(t, br, cb, "x", "unknown, used or expired state")
		}
	})

	t.Run("y's response naming x as its issuer", func(t *testing.T) {
		br, up := m.begin(t, "y")
		cb := m.upstreamSignIn(t, br, "y", up, acct)
		q := cb.Query()
		q.Set("iss", m.x.URL)
		cb.RawQuery = q.Encode()
		m.forged(t, br, cb, "y", "in the authorization response is not")
	})

	t.Run("y returning x's ID token", func(t *testing.T) {
		br, up := m.begin(t, "y")
		nonce := up.Query().Get("nonce")
		// A genuine ID token of x, for idp's client there, with the nonce
		// a sent to y: what a malicious y could get from x.
		fromX := idTokenAt(t, m.x.URL, "idp-a", m.xSecret, m.a.URL+upstreams.CallbackPath("x"), nonce)
		if c := jwtClaims(t, fromX); c["iss"] != m.x.URL || c["aud"] != "idp-a" || c["nonce"] != nonce {
			t.Fatalf("x's ID token: %v", c)
		}
		cb := m.upstreamSignIn(t, br, "y", up, acct)
		applied := m.proxy.tamper(t, "/token", func(body map[string]any) { body["id_token"] = fromX })
		// Signed by x, whose key y's JWKS does not hold.
		m.forged(t, br, cb, "y", "is not in the issuer's JWKS")
		if applied() != 1 {
			t.Fatalf("the proxy swapped %d token responses, want 1", applied())
		}
	})

	t.Run("y signing an ID token with x's issuer", func(t *testing.T) {
		br, up := m.begin(t, "y")
		cb := m.upstreamSignIn(t, br, "y", up, acct)
		// y's own key and everything else right: only iss is x's.
		now := m.y.Clock.Now()
		payload, _ := json.Marshal(map[string]any{"iss": m.x.URL, "sub": "someone-at-x", "aud": "idp-a",
			"azp": "idp-a", "nonce": up.Query().Get("nonce"), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"email": fedEmail, "email_verified": true})
		claimingX, err := m.y.Keys.Sign(context.Background(), "RS256", payload, "JWT")
		if err != nil {
			t.Fatal(err)
		}
		applied := m.proxy.tamper(t, "/token", func(body map[string]any) { body["id_token"] = claimingX })
		m.forged(t, br, cb, "y", "wrong issuer")
		if applied() != 1 {
			t.Fatalf("the proxy swapped %d token responses, want 1", applied())
		}
	})

	// A discovery document naming another issuer stops the sign-in before
	// the browser leaves (OIDC Discovery §4.3). idp counts it as the
	// upstream failing, not as a forged response: nothing came back yet.
	t.Run("y's discovery naming x as its issuer", func(t *testing.T) {
		applied := m.proxy.tamper(t, "/.well-known/openid-configuration", func(body map[string]any) { body["issuer"] = m.x.URL })
		usersBefore, linksBefore := allRows(t, m.a)
		audits := failureAudits(t, m.a, "y-liar", "unavailable")
		_, resp, page := m.press(t, "y-liar")
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(page.Body, "did not work") {
			t.Fatalf("start at a lying upstream: %d %.600s", resp.StatusCode, page.Body)
		}
		if applied() != 1 {
			t.Fatalf("the proxy altered %d discovery documents, want 1", applied())
		}
		if n := failureAudits(t, m.a, "y-liar", "unavailable"); n != audits+1 {
			t.Errorf("%d new audit signin.failure reason=unavailable, want 1", n-audits)
		}
		if logLines(m.log.String(), "upstream sign-in failed", "upstream=y-liar", "is not the configured") == 0 {
			t.Errorf("a's log lacks why:\n%s", m.log.String())
		}
		if n, l := allRows(t, m.a); n != usersBefore || l != linksBefore {
			t.Errorf("%d users, %d links; %d and %d before", n, l, usersBefore, linksBefore)
		}
	})
}

// upstreamStateCookie is the browser's idp_upstream cookie at a: the
// state of the sign-in it started.
func upstreamStateCookie(t *testing.T, br *http.Client, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range br.Jar.Cookies(u) {
		if c.Name == "idp_upstream" {
			return c.Value
		}
	}
	t.Fatal("no idp_upstream cookie")
	return ""
}

func setUpstreamStateCookie(t *testing.T, br *http.Client, base, v string) {
	t.Helper()
	u, _ := url.Parse(base)
	br.Jar.SetCookies(u, []*http.Cookie{{Name: "idp_upstream", Value: v, Path: "/"}})
}

// flipSignature changes one bit of a JWS's signature.
func flipSignature(t *testing.T, jws string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jws)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		t.Fatalf("signature: %v", err)
	}
	sig[len(sig)/2] ^= 0x01
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return strings.Join(parts, ".")
}
