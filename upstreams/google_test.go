package upstreams_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"idp/db/dbtest"
	"idp/keys"
	"idp/oauth"
	"idp/upstreams"
)

// Google ignores offline_access and issues a refresh token only for
// access_type=offline at a sign-in that shows the consent screen
// (docs/federation.md). Google cannot be reached from a test, so a
// transport answers for every issuer's host with a discovery document in
// the shape of Google's own, and the test reads the authorization request
// Begin builds from it.

// fakeDiscovery answers discovery and JWKS requests for any https issuer
// (host and path); nothing leaves the process.
type fakeDiscovery struct{ jwks []byte }

func newFakeDiscovery(t *testing.T) *fakeDiscovery {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}}})
	return &fakeDiscovery{jwks: jwks}
}

func (f *fakeDiscovery) RoundTrip(r *http.Request) (*http.Response, error) {
	const wellKnown = "/.well-known/openid-configuration"
	iss := "https://" + r.URL.Host + strings.TrimSuffix(r.URL.Path, wellKnown)
	rec := httptest.NewRecorder()
	switch {
	case strings.HasSuffix(r.URL.Path, wellKnown):
		// The fields Google's https://accounts.google.com discovery has.
		_ = json.NewEncoder(rec).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/o/oauth2/v2/auth",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/certs", "revocation_endpoint": iss + "/revoke"})
	case strings.HasSuffix(r.URL.Path, "/certs"):
		_, _ = rec.Write(f.jwks)
	default:
		rec.WriteHeader(http.StatusNotFound)
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func TestUpstreamAsksGoogleForOfflineAccess(t *testing.T) {
	d := dbtest.Open(t)
	var mk keys.MasterKey
	svc := upstreams.NewService(upstreams.NewStore(d.Gorm), nil, upstreams.Config{Issuer: self, SealKey: mk.Derive("upstream-secret"),
		HTTPClient: &http.Client{Transport: newFakeDiscovery(t), Timeout: 10 * time.Second}})
	ctx := context.Background()
	cases := []struct {
		id, issuer string
		offline    bool
		// wanted in the authorization request
		scope, prompt, accessType string
	}{
		{"google", "https://accounts.google.com", true, "openid email", "consent", "offline"},
		{"google-online", "https://accounts.google.com", false, "openid email", "", ""},
		{"corp", "https://sso.corp.example", true, "openid email offline_access", "consent", ""},
		{"corp-online", "https://sso.corp.example", false, "openid email", "", ""},
		// Only Google's exact issuer: a look-alike gets the standard request.
		{"google-tenant", "https://accounts.google.com/tenant", true, "openid email offline_access", "consent", ""},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			scopes := []string{"email"}
			if c.offline {
				scopes = append(scopes, oauth.ScopeOfflineAccess)
			}
			if _, err := svc.Create(ctx, upstreams.Spec{ID: c.id, Name: c.id, Issuer: c.issuer, ClientID: "idp-a", Scopes: scopes}); err != nil {
				t.Fatal(err)
			}
			st, err := svc.Begin(ctx, c.id, "", "")
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			u, err := url.Parse(st.URL)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.issuer + "/o/oauth2/v2/auth"; u.Scheme+"://"+u.Host+u.Path != want {
				t.Errorf("authorization request to %s, want %s", st.URL, want)
			}
			q := u.Query()
			if q.Get("scope") != c.scope || q.Get("prompt") != c.prompt || q.Get("access_type") != c.accessType {
				t.Errorf("scope %q prompt %q access_type %q, want %q %q %q", q.Get("scope"), q.Get("prompt"), q.Get("access_type"),
					c.scope, c.prompt, c.accessType)
			}
			if _, ok := q["access_type"]; ok != (c.accessType != "") {
				t.Errorf("access_type sent: %v", ok)
			}
			// The rest of the request is the usual one.
			for _, k := range []string{"state", "nonce", "code_challenge", "client_id", "redirect_uri"} {
				if q.Get(k) == "" {
					t.Errorf("no %s in %s", k, st.URL)
				}
			}
			if strings.Contains(st.URL, "offline_access") != slices.Contains(strings.Fields(c.scope), "offline_access") {
				t.Errorf("offline_access in %s", st.URL)
			}
		})
	}
	// The upstream's own scopes are not changed by the request built.
	u, err := svc.Store().ByID(ctx, "google")
	if err != nil || !slices.Contains(u.Scopes, oauth.ScopeOfflineAccess) {
		t.Errorf("google's stored scopes %v (%v), want offline_access kept", u.Scopes, err)
	}
}
