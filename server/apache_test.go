package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/resources"
	"idp/server/servertest"
)

// apiAccess is what the Apache test needs from idp: the credentials Apache
// introspects with, and a user's access token for the API together with
// the client it was issued to (which revokes it).
type apiAccess struct {
	introspect creds // OIDCOAuthClientID and OIDCOAuthClientSecret
	holder     creds // the client holding token
	token      string
	sub        string
	// refresh and notForAPI are the holder's tokens the API must refuse:
	// its refresh token, and an access token whose aud is the client.
	refresh, notForAPI string
}

// introspectionCreds registers the API Apache protects as a resource
// (RFC 8707; `idp resources create --id https://orders.example/api`) and
// returns its introspection credentials — its URI and secret — with a
// signed-in user's access token for it, obtained by the web client that
// asked for resource=<URI>, and that client's other tokens (a refresh
// token, and an access token for the client alone), which the API must
// never accept.
func introspectionCreds(t *testing.T, env *servertest.Env) apiAccess {
	t.Helper()
	const api = "https://orders.example/api"
	secret := env.CreateResource(t, resources.Spec{URI: api, Name: "Orders"})
	user := env.CreateUser(t, testEmail, testPassword)
	app := newRPWithScopes(t, env, clients.Spec{ID: "orders-web", Trusted: true}, []string{"openid", "offline_access"})
	login := func(extra ...oauth2.AuthCodeOption) *oauth2.Token {
		v := oauth2.GenerateVerifier()
		loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", append(extra, oauth2.S256ChallengeOption(v))...), testEmail, testPassword)
		tok, err := app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("code exchange: %v", err)
		}
		return tok
	}
	tok := login(oauth2.SetAuthURLParam("resource", api))
	plain := login()
	return apiAccess{introspect: creds{api, secret}, holder: credsOf(app), token: tok.AccessToken, sub: user.ID,
		refresh: tok.RefreshToken, notForAPI: plain.AccessToken}
}

// upstream is the API behind Apache: it answers with who Apache says
// the caller is, and counts the requests that got through.
type upstream struct {
	*httptest.Server
	n atomic.Int64
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"path": r.URL.Path, "remote_user": r.Header.Get("X-Remote-User"), "claim_sub": r.Header.Get("OIDC_CLAIM_sub"),
		})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int64 { return u.n.Load() }

// callThrough calls path through Apache with the Authorization header auth
// ("" for none) and any extra headers.
func callThrough(t *testing.T, a *apache, path, auth string, extra map[string]string) (int, map[string]string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s through apache: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]string
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("upstream answer %q: %v", raw, err)
		}
	}
	return resp.StatusCode, body, resp.Header
}

// TestModAuthOpenIDC: Apache httpd with mod_auth_openidc, as an OAuth 2.0
// resource server (AuthType oauth20), protects an API by introspecting
// bearer tokens at idp (RFC 7662). A user's token passes with the user's
// sub as REMOTE_USER; once revoked at idp (RFC 7009) the very next call is
// refused; no token, garbage and forged claim headers get nothing. Apache
// authenticates to idp both ways it can with a secret.
func TestModAuthOpenIDC(t *testing.T) {
	needApache(t)
	t.Parallel()
	for _, method := range []string{"client_secret_post", "client_secret_basic"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			modAuthOpenIDCJourney(t, method)
		})
	}
}

// modAuthOpenIDCJourney is TestModAuthOpenIDC with Apache authenticating
// to the introspection endpoint with method.
func modAuthOpenIDCJourney(t *testing.T, method string) {
	env := servertest.New(t)
	access := introspectionCreds(t, env)
	api := newUpstream(t)
	// mod_auth_openidc introspects over https only.
	front := newTLSFront(t, env.URL)
	a := startApache(t, apacheConf{CA: front.Certificate(), Introspect: front.URL + "/introspect", ID: access.introspect.id,
		Secret: access.introspect.secret, AuthMethod: method, Upstream: api.URL})
	bearer := "Bearer " + access.token

	// A live token: the upstream sees the user, from REMOTE_USER and from
	// the claim header; a forged claim header is scrubbed.
	status, body, _ := callThrough(t, a, "/api/orders", bearer, map[string]string{"OIDC_CLAIM_sub": "mallory"})
	if status != http.StatusOK || body["path"] != "/orders" || body["remote_user"] != access.sub || body["claim_sub"] != access.sub {
		t.Fatalf("live token: %d %v, want 200 for sub %s", status, body, access.sub)
	}
	// Introspection is not cached: a second call asks idp again.
	asked := front.requests()
	if status, _, _ := callThrough(t, a, "/api/orders", bearer, nil); status != http.StatusOK || front.requests() != asked+1 {
		t.Fatalf("live token, second call: %d after %d introspections, want 200 after one more", status, front.requests()-asked)
	}

	refused := func(name, auth string) {
		t.Helper()
		before := api.count()
		status, _, h := callThrough(t, a, "/api/orders", auth, map[string]string{"X-Remote-User": "mallory"})
		if status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, status)
		}
		if !strings.HasPrefix(strings.ToLower(h.Get("WWW-Authenticate")), "bearer") {
			t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", name, h.Get("WWW-Authenticate"))
		}
		if api.count() != before {
			t.Errorf("%s reached the upstream", name)
		}
	}
	refused("no token", "")
	refused("garbage", "Bearer not-a-token")
	refused("a forged signature", "Bearer "+access.token[:strings.LastIndex(access.token, ".")+1]+"AAAA")
	refused("the client's refresh token", "Bearer "+access.refresh)
	refused("a token for the client, not the API", "Bearer "+access.notForAPI)

	wantRevoked200(t, revokeToken(t, env, access.holder, access.token, "access_token"))
	refused("the revoked token", bearer)
}

// TestModAuthOpenIDCBasicAuthEncoding: with client_secret_basic,
// mod_auth_openidc form-urlencodes the client id and secret before Base64
// (RFC 6749 §2.3.1), as idp decodes them, so a URI client id such as a
// resource's arrives intact. A recording introspection endpoint stands in
// for idp.
func TestModAuthOpenIDCBasicAuthEncoding(t *testing.T) {
	needApache(t)
	t.Parallel()
	const id, secret = "https://orders.example/api", "s3cret:with/odd+chars%&="
	var mu sync.Mutex
	var got []string
	fake := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"active":true,"sub":"user-1","exp":4102444800}`)
	}))
	t.Cleanup(fake.Close)
	api := newUpstream(t)
	a := startApache(t, apacheConf{CA: fake.Certificate(), Introspect: fake.URL + "/introspect", ID: id, Secret: secret,
		AuthMethod: "client_secret_basic", Upstream: api.URL})
	if status, body, _ := callThrough(t, a, "/api/x", "Bearer opaque", nil); status != http.StatusOK || body["remote_user"] != "user-1" {
		t.Fatalf("through the fake introspection endpoint: %d %v", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d introspection calls, want 1", len(got))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(got[0], "Basic "))
	if err != nil {
		t.Fatalf("Authorization %q: %v", got[0], err)
	}
	want := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	if string(raw) != want {
		t.Fatalf("Basic credentials %q, want form-urlencoded %q", raw, want)
	}
}
