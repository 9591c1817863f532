package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

// Pushed authorization requests (RFC 9126) end to end, on the in-process
// server (SQLite, or PostgreSQL with IDP_TEST_POSTGRES).

const parPrefix = "urn:ietf:params:oauth:request_uri:"

// parEnv is a provider with a user, a confidential client "par-web" and a
// public client "par-spa".
type parEnv struct {
	env    *servertest.Env
	secret string
}

func newPAREnv(t *testing.T, opts ...servertest.Option) *parEnv {
	t.Helper()
	env := servertest.New(t, opts...)
	env.CreateUser(t, testEmail, testPassword)
	_, secret := env.CreateClient(t, clients.Spec{ID: "par-web", Name: "PAR Web", RedirectURIs: []string{testRedirect}})
	env.CreateClient(t, clients.Spec{ID: "par-spa", Public: true, RedirectURIs: []string{testRedirect}, Trusted: true})
	return &parEnv{env: env, secret: secret}
}

// authzParams are the parameters of a valid code request with PKCE.
func authzParams(verifier string) url.Values {
	return url.Values{"response_type": {"code"}, "redirect_uri": {testRedirect}, "scope": {"openid email"},
		"state": {"pushed-state"}, "nonce": {"pushed-nonce"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
}

// push posts form to the PAR endpoint, with HTTP Basic when id is set,
// and returns the status and the decoded JSON body.
func (p *parEnv) push(t *testing.T, id, secret string, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.env.URL+"/par", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("PAR answered %d without JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body, resp.Header
}

// pushOK pushes a valid request for the confidential client and returns
// its request_uri.
func (p *parEnv) pushOK(t *testing.T, verifier string) string {
	t.Helper()
	status, body, hdr := p.push(t, "par-web", p.secret, authzParams(verifier))
	uri, _ := body["request_uri"].(string)
	if status != http.StatusCreated || !strings.HasPrefix(uri, parPrefix) || body["expires_in"] != float64(60) ||
		hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("push: %d %v %v", status, body, hdr)
	}
	return uri
}

// authorizeURL is the authorization request that redeems a pushed one.
func (p *parEnv) authorizeURL(clientID, requestURI string) string {
	return p.env.URL + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode()
}

// pushedRows counts the stored pushed requests.
func (p *parEnv) pushedRows(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := p.env.DB.Gorm.Raw("SELECT COUNT(*) FROM pushed_requests").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// refusedPage asserts an /authorize answer is an error page, not a
// redirect anywhere.
func refusedPage(t *testing.T, resp *http.Response, page *servertest.Page, want string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page.Body, want) {
		t.Fatalf("want a 400 page saying %q, got %d (Location %q): %.300s", want, resp.StatusCode, resp.Header.Get("Location"), page.Body)
	}
}

// TestPARCodeFlow: push, authorize with the request_uri alone (the pushed
// parameters win over any sent alongside), sign in, consent, exchange the
// code with x/oauth2 and verify the ID token with go-oidc; the request_uri
// then works no more.
func TestPARCodeFlow(t *testing.T) {
	p := newPAREnv(t)
	env, ctx := p.env, context.Background()
	verifier := oauth2.GenerateVerifier()
	uri := p.pushOK(t, verifier)

	// RFC 9126 §4: only client_id and request_uri count.
	authURL := p.authorizeURL("par-web", uri) + "&state=forged&redirect_uri=" + url.QueryEscape("https://evil.example/cb")
	loc := env.Authorize(t, env.Browser(t), authURL, testEmail, testPassword)
	q := loc.Query()
	if loc.Scheme+"://"+loc.Host+loc.Path != testRedirect || q.Get("state") != "pushed-state" || q.Get("iss") != env.URL || q.Get("code") == "" {
		t.Fatalf("final redirect %s", loc)
	}
	provider, err := oidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "par-web", ClientSecret: p.secret, Endpoint: provider.Endpoint(), RedirectURL: testRedirect}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "par-web"}).Verify(ctx, rawID)
	if err != nil || idt.Nonce != "pushed-nonce" {
		t.Fatalf("ID token: %v, nonce %q", err, idt.Nonce)
	}
	resp, page := env.Get(t, env.Browser(t), p.authorizeURL("par-web", uri))
	refusedPage(t, resp, page, "already used")
}

// TestPARReloadedSignInPage: once /authorize accepted a pushed request,
// the sign-in page continues by the pending request's id, so reloading
// it works; the request_uri itself is spent.
func TestPARReloadedSignInPage(t *testing.T) {
	p := newPAREnv(t)
	env, b := p.env, p.env.Browser(t)
	verifier := oauth2.GenerateVerifier()
	form := authzParams(verifier)
	form.Set("client_id", "par-spa")
	status, body, _ := p.push(t, "", "", form)
	if status != http.StatusCreated {
		t.Fatalf("public client push: %d %v", status, body)
	}
	uri := body["request_uri"].(string)
	resp, _ := env.Get(t, b, p.authorizeURL("par-spa", uri))
	login := servertest.Location(t, resp)
	if login.Path != "/login" {
		t.Fatalf("authorize sent the browser to %s", login)
	}
	var page *servertest.Page
	for range 2 {
		if resp, page = env.Get(t, b, login.String()); resp.StatusCode != http.StatusOK || page.RequestID() == "" {
			t.Fatalf("sign-in page: %d", resp.StatusCode)
		}
	}
	resp, _ = env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()},
		"email": {testEmail}, "password": {testPassword}})
	loc := servertest.Location(t, resp)
	if !strings.HasPrefix(loc.String(), testRedirect) || loc.Query().Get("code") == "" || loc.Query().Get("state") != "pushed-state" {
		t.Fatalf("after sign-in: %s", loc)
	}
	resp, page = env.Get(t, env.Browser(t), p.authorizeURL("par-spa", uri))
	refusedPage(t, resp, page, "already used")
}

// TestPARRefusedRequestURIs: an expired request_uri, another client's, and
// one never issued are refused on a page; a refused attempt by another
// client does not spend it.
func TestPARRefusedRequestURIs(t *testing.T) {
	p := newPAREnv(t)
	env := p.env
	verifier := oauth2.GenerateVerifier()

	expiring := p.pushOK(t, verifier)
	env.Clock.Advance(60 * time.Second)
	resp, page := env.Get(t, env.Browser(t), p.authorizeURL("par-web", expiring))
	refusedPage(t, resp, page, "expired")

	uri := p.pushOK(t, verifier)
	resp, page = env.Get(t, env.Browser(t), p.authorizeURL("par-spa", uri))
	refusedPage(t, resp, page, "another application")
	resp, page = env.Get(t, env.Browser(t), p.authorizeURL("par-web", parPrefix+"made-up"))
	refusedPage(t, resp, page, "expired")
	resp, page = env.Get(t, env.Browser(t), env.URL+"/authorize?request_uri="+url.QueryEscape(uri))
	refusedPage(t, resp, page, "client_id is missing")

	resp, _ = env.Get(t, env.Browser(t), p.authorizeURL("par-web", uri))
	if loc := servertest.Location(t, resp); loc.Path != "/login" {
		t.Fatalf("the owner's request_uri after another client's attempt: %s", loc)
	}
}

// TestPARConcurrentRedemption: 20 browsers racing with one request_uri;
// exactly one is accepted.
func TestPARConcurrentRedemption(t *testing.T) {
	p := newPAREnv(t)
	env := p.env
	uri := p.pushOK(t, oauth2.GenerateVerifier())
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := env.Browser(t).Get(p.authorizeURL("par-web", uri))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	accepted := 0
	for i, s := range statuses {
		switch s {
		case http.StatusSeeOther:
			accepted++
		case http.StatusBadRequest:
		default:
			t.Errorf("racer %d got %d", i, s)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of %d redemptions accepted, want 1 (%v)", accepted, n, statuses)
	}
}

// TestPARRequiredByClient: a client registered with --require-par gets
// invalid_request at its redirect_uri for a plain request, and is served
// when it pushes; other clients are not affected.
func TestPARRequiredByClient(t *testing.T) {
	p := newPAREnv(t)
	env := p.env
	_, secret := env.CreateClient(t, clients.Spec{ID: "par-only", RedirectURIs: []string{testRedirect},
		Metadata: clients.Metadata{RequirePAR: true}})
	verifier := oauth2.GenerateVerifier()
	plain := authzParams(verifier)
	plain.Set("client_id", "par-only")
	resp, _ := env.Get(t, env.Browser(t), env.URL+"/authorize?"+plain.Encode())
	loc := servertest.Location(t, resp)
	if !strings.HasPrefix(loc.String(), testRedirect) || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "pushed-state" {
		t.Fatalf("plain request of a PAR-only client: %s", loc)
	}
	status, body, _ := p.push(t, "par-only", secret, authzParams(verifier))
	if status != http.StatusCreated {
		t.Fatalf("push: %d %v", status, body)
	}
	resp, _ = env.Get(t, env.Browser(t), p.authorizeURL("par-only", body["request_uri"].(string)))
	if loc := servertest.Location(t, resp); loc.Path != "/login" {
		t.Fatalf("pushed request of a PAR-only client: %s", loc)
	}
	plain.Set("client_id", "par-web")
	resp, _ = env.Get(t, env.Browser(t), env.URL+"/authorize?"+plain.Encode())
	if loc := servertest.Location(t, resp); loc.Path != "/login" {
		t.Fatalf("plain request of another client: %s", loc)
	}
}

// TestPARRequiredGlobally: with --require-par every plain request is
// refused and discovery says so; pushed ones are served.
func TestPARRequiredGlobally(t *testing.T) {
	p := newPAREnv(t, func(c *server.Config) { c.RequirePAR = true })
	env := p.env
	doc := discovery(t, env)
	if doc["pushed_authorization_request_endpoint"] != env.URL+"/par" || doc["require_pushed_authorization_requests"] != true {
		t.Fatalf("discovery: %v %v", doc["pushed_authorization_request_endpoint"], doc["require_pushed_authorization_requests"])
	}
	verifier := oauth2.GenerateVerifier()
	for _, id := range []string{"par-web", "par-spa"} {
		plain := authzParams(verifier)
		plain.Set("client_id", id)
		resp, _ := env.Get(t, env.Browser(t), env.URL+"/authorize?"+plain.Encode())
		if loc := servertest.Location(t, resp); loc.Query().Get("error") != "invalid_request" {
			t.Fatalf("plain request of %s: %s", id, loc)
		}
	}
	resp, _ := env.Get(t, env.Browser(t), p.authorizeURL("par-web", p.pushOK(t, verifier)))
	if loc := servertest.Location(t, resp); loc.Path != "/login" {
		t.Fatalf("pushed request: %s", loc)
	}
}

// TestPARDiscoveryDefault: the endpoint is always listed; PAR is not
// required unless configured.
func TestPARDiscoveryDefault(t *testing.T) {
	env := servertest.New(t)
	doc := discovery(t, env)
	if doc["pushed_authorization_request_endpoint"] != env.URL+"/par" || doc["require_pushed_authorization_requests"] != false {
		t.Fatalf("discovery: %v %v", doc["pushed_authorization_request_endpoint"], doc["require_pushed_authorization_requests"])
	}
}

func discovery(t *testing.T, env *servertest.Env) map[string]any {
	t.Helper()
	resp, err := http.Get(env.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestPARRefusals: bad pushes get RFC 6749 §5.2 JSON and store nothing.
func TestPARRefusals(t *testing.T) {
	p := newPAREnv(t)
	verifier := oauth2.GenerateVerifier()
	with := func(k, v string) url.Values {
		f := authzParams(verifier)
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	cases := []struct {
		name, id, secret string
		form             url.Values
		status           int
		err              string
	}{
		{"wrong secret", "par-web", "not-the-secret", authzParams(verifier), 401, "invalid_client"},
		{"unknown client", "nobody", "whatever-secret", authzParams(verifier), 401, "invalid_client"},
		{"no client authentication", "", "", authzParams(verifier), 401, "invalid_client"},
		{"confidential client without a secret", "", "", with("client_id", "par-web"), 401, "invalid_client"},
		{"public client without PKCE", "", "", func() url.Values {
			f := with("code_challenge", "")
			f.Del("code_challenge_method")
			f.Set("client_id", "par-spa")
			return f
		}(), 400, "invalid_request"},
		{"unregistered redirect_uri", "par-web", p.secret, with("redirect_uri", "https://evil.example/cb"), 400, "invalid_request"},
		{"missing redirect_uri", "par-web", p.secret, with("redirect_uri", ""), 400, "invalid_request"},
		{"request_uri pushed", "par-web", p.secret, with("request_uri", parPrefix+"x"), 400, "invalid_request"},
		{"request object", "par-web", p.secret, with("request", "e30.e30."), 400, "request_not_supported"},
		{"response_type token", "par-web", p.secret, with("response_type", "token"), 400, "unsupported_response_type"},
		{"scope without openid", "par-web", p.secret, with("scope", "email"), 400, "invalid_scope"},
		{"plain PKCE", "par-web", p.secret, with("code_challenge_method", "plain"), 400, "invalid_request"},
		{"client_id of another client", "par-web", p.secret, with("client_id", "par-spa"), 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, hdr := p.push(t, tc.id, tc.secret, tc.form)
			if status != tc.status || body["error"] != tc.err || hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.err)
			}
			if tc.id != "" && tc.status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("invalid_client after Basic without a Basic challenge: %q", hdr.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("repeated parameter", func(t *testing.T) {
		f := authzParams(verifier)
		f.Add("scope", "openid")
		if status, body, _ := p.push(t, "par-web", p.secret, f); status != 400 || body["error"] != "invalid_request" {
			t.Fatalf("got %d %v", status, body)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(p.env.URL + "/par?" + authzParams(verifier).Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET /par: %d", resp.StatusCode)
		}
	})
	if n := p.pushedRows(t); n != 0 {
		t.Fatalf("%d pushed requests stored by refused pushes", n)
	}
}
