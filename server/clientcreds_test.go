package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"idp/clients"
	"idp/server/servertest"
)

// ccEnv has a service client allowed client_credentials with two API
// scopes beside the user scopes, a web client that is not allowed it, and
// a public client.
type ccEnv struct {
	env      *servertest.Env
	svc, web creds
}

func newCCEnv(t *testing.T) *ccEnv {
	t.Helper()
	env := servertest.New(t)
	_, svcSecret := env.CreateClient(t, clients.Spec{ID: "svc", GrantTypes: []string{clients.GrantClientCredentials},
		Scopes: []string{"openid", "profile", "offline_access", "api:read", "api:write"}})
	_, webSecret := env.CreateClient(t, clients.Spec{ID: "web", RedirectURIs: []string{testRedirect},
		Scopes: []string{"openid", "api:read"}})
	env.CreateClient(t, clients.Spec{ID: "spa", Public: true, RedirectURIs: []string{testRedirect}})
	return &ccEnv{env: env, svc: creds{"svc", svcSecret}, web: creds{"web", webSecret}}
}

func (e *ccEnv) token(t *testing.T, c creds, scope string) apiResult {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return callAPI(t, e.env, "/token", c, form)
}

// TestClientCredentials: the client acting for itself gets an access
// token about itself, limited to its own non-user scopes, and nothing
// else: no ID token, no refresh token.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newCCEnv(t)
	for _, tc := range []struct{ scope, want string }{
		{"", "api:read api:write"},
		{"api:read", "api:read"},
		{"api:write api:read", "api:write api:read"},
	} {
		r := e.token(t, e.svc, tc.scope)
		if r.status != http.StatusOK || r.str("token_type") != "Bearer" || r.str("scope") != tc.want ||
			r.body["expires_in"] != float64(600) || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("scope %q: %d %s", tc.scope, r.status, r.raw)
		}
		for _, k := range []string{"id_token", "refresh_token"} {
			if _, ok := r.body[k]; ok {
				t.Errorf("client_credentials answer has %s: %s", k, r.raw)
			}
		}
		in := introspectToken(t, e.env, e.svc, r.str("access_token"), "")
		wantActive(t, in, true)
		if in.str("sub") != "svc" || in.str("client_id") != "svc" || in.str("scope") != tc.want || in.str("username") != "" {
			t.Errorf("introspection of a client token: %s", in.raw)
		}
		at, err := e.env.Tokens.VerifyAccessToken(t.Context(), r.str("access_token"))
		if err != nil || at.Subject != "svc" || len(at.Roles) != 0 || !at.Audience.Contains("svc") {
			t.Errorf("access token claims %+v, %v", at, err)
		}
		// Not a user's token: UserInfo has nothing to say.
		if u := userinfoStatus(t, e.env, r.str("access_token")); u.status != http.StatusForbidden || u.str("error") != "insufficient_scope" {
			t.Errorf("userinfo with a client token: %d %s", u.status, u.raw)
		}
	}
	if n := rowCount(t, e.env, "refresh_families", ""); n != 0 {
		t.Fatalf("%d refresh families from client_credentials", n)
	}
}

// TestClientCredentialsRefusals: user scopes, scopes the client lacks, a
// client not allowed the grant, a public client and bad credentials.
func TestClientCredentialsRefusals(t *testing.T) {
	t.Parallel()
	e := newCCEnv(t)
	cases := []struct {
		name   string
		c      creds
		scope  string
		status int
		code   string
	}{
		{"openid", e.svc, "openid", http.StatusBadRequest, "invalid_scope"},
		{"openid beside an API scope", e.svc, "openid api:read", http.StatusBadRequest, "invalid_scope"},
		{"profile", e.svc, "profile", http.StatusBadRequest, "invalid_scope"},
		{"offline_access", e.svc, "offline_access", http.StatusBadRequest, "invalid_scope"},
		{"idp:admin", e.svc, "idp:admin", http.StatusBadRequest, "invalid_scope"},
		{"a scope the client lacks", e.svc, "api:delete", http.StatusBadRequest, "invalid_scope"},
		{"a malformed scope", e.svc, "api:read\"", http.StatusBadRequest, "invalid_scope"},
		{"client not allowed the grant", e.web, "api:read", http.StatusBadRequest, "unauthorized_client"},
		{"public client", creds{id: "spa"}, "", http.StatusBadRequest, "unauthorized_client"},
		{"public client with a made-up secret", creds{"spa", strings.Repeat("x", 43)}, "", http.StatusUnauthorized, "invalid_client"},
		{"wrong secret", creds{"svc", e.svc.secret + "x"}, "", http.StatusUnauthorized, "invalid_client"},
		{"no client authentication", creds{}, "", http.StatusUnauthorized, "invalid_client"},
		{"secret left out", creds{id: "svc"}, "", http.StatusUnauthorized, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := rowSnapshot(t, e.env)
			r := e.token(t, tc.c, tc.scope)
			wantError(t, r, tc.status, tc.code)
			if _, ok := r.body["access_token"]; ok {
				t.Fatalf("a refused request got a token: %s", r.raw)
			}
			unchanged(t, e.env, before)
		})
	}
}
