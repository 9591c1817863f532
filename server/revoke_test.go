package server_test

import (
	"net/http"
	"testing"

	"idp/clients"
	"idp/server/servertest"
)

// revokeFixture is a signed-in user's grant that has rotated once: r0 and
// a0 from the code exchange, r1, a1 and the ID token i1 from the refresh.
type revokeFixture struct {
	env                *servertest.Env
	app, other         *rp
	r0, a0, r1, a1, i1 string
}

func newRevokeFixture(t *testing.T) *revokeFixture {
	t.Helper()
	env := servertest.New(t)
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	other := newRP(t, env, clients.Spec{ID: "other", Trusted: true})
	tr := mustRefresh(t, app, tok.RefreshToken)
	return &revokeFixture{env: env, app: app, other: other, r0: tok.RefreshToken, a0: tok.AccessToken,
		r1: tr.RefreshToken, a1: tr.AccessToken, i1: tr.IDToken}
}

// wantRevoked200 checks RFC 7009 §2.2: 200, no body that says anything.
func wantRevoked200(t *testing.T, r apiResult) {
	t.Helper()
	if r.status != http.StatusOK || len(r.raw) != 0 {
		t.Fatalf("revocation: %d %q, want 200 and no body", r.status, r.raw)
	}
}

// TestRevokeRefreshTokenKillsFamily: revoking any refresh token of a
// family, whatever the hint says, ends every token of it and denylists
// its live access tokens.
func TestRevokeRefreshTokenKillsFamily(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, which, hint string }{
		{"newest, hinted", "r1", "refresh_token"},
		{"newest, no hint", "r1", ""},
		{"newest, wrong hint", "r1", "access_token"},
		{"already rotated", "r0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRevokeFixture(t)
			token := map[string]string{"r0": f.r0, "r1": f.r1}[tc.which]
			wantRevoked200(t, revokeToken(t, f.env, credsOf(f.app), token, tc.hint))
			wantError(t, refreshWith(t, f.env, credsOf(f.app), f.r1, nil), http.StatusBadRequest, "invalid_grant")
			wantActive(t, introspectToken(t, f.env, credsOf(f.app), f.r1, ""), false)
			for _, at := range []string{f.a0, f.a1} {
				wantRefused(t, f.env, at)
				wantActive(t, introspectToken(t, f.env, credsOf(f.app), at, ""), false)
			}
			// Revoking again is still 200 and changes nothing.
			before := rowSnapshot(t, f.env)
			wantRevoked200(t, revokeToken(t, f.env, credsOf(f.app), token, tc.hint))
			unchanged(t, f.env, before)
		})
	}
}

// TestRevokeAccessToken: an access token is denylisted alone; the refresh
// token and the other access tokens keep working.
func TestRevokeAccessToken(t *testing.T) {
	t.Parallel()
	for _, hint := range []string{"access_token", "", "refresh_token"} {
		t.Run("hint="+hint, func(t *testing.T) {
			f := newRevokeFixture(t)
			wantRevoked200(t, revokeToken(t, f.env, credsOf(f.app), f.a1, hint))
			wantRefused(t, f.env, f.a1)
			wantActive(t, introspectToken(t, f.env, credsOf(f.app), f.a1, ""), false)
			wantAccepted(t, f.env, f.a0)
			if n := rowCount(t, f.env, "revoked_tokens", ""); n != 1 {
				t.Fatalf("%d denylist entries, want 1", n)
			}
			wantActive(t, introspectToken(t, f.env, credsOf(f.app), f.r1, ""), true)
			tr := mustRefresh(t, f.app, f.r1)
			wantAccepted(t, f.env, tr.AccessToken)
		})
	}
}

// TestRevokeRefusals: bad client authentication is 401, another client's
// token is 200 with nothing revoked, an unknown token is 200, a missing
// one invalid_request, and GET is not the method. None changes anything.
func TestRevokeRefusals(t *testing.T) {
	t.Parallel()
	f := newRevokeFixture(t)
	app := credsOf(f.app)
	cases := []struct {
		name   string
		c      creds
		token  string
		hint   string
		status int
		code   string // "" for a 200
	}{
		{"no client authentication", creds{}, f.r1, "", http.StatusUnauthorized, "invalid_client"},
		{"wrong secret", creds{app.id, app.secret + "x"}, f.r1, "", http.StatusUnauthorized, "invalid_client"},
		{"unknown client", creds{"nobody", app.secret}, f.a1, "", http.StatusUnauthorized, "invalid_client"},
		{"confidential client without its secret", creds{app.id, ""}, f.r1, "", http.StatusUnauthorized, "invalid_client"},
		{"another client's refresh token", credsOf(f.other), f.r1, "refresh_token", http.StatusOK, ""},
		{"another client's refresh token, wrong hint", credsOf(f.other), f.r1, "access_token", http.StatusOK, ""},
		{"another client's access token", credsOf(f.other), f.a1, "access_token", http.StatusOK, ""},
		{"another client's access token, no hint", credsOf(f.other), f.a1, "", http.StatusOK, ""},
		{"unknown token", app, "no-such-token", "", http.StatusOK, ""},
		{"unknown JWT-shaped token", app, "eyJhbGciOiJub25lIn0.e30.", "access_token", http.StatusOK, ""},
		{"unknown hint value", app, "no-such-token", "id_token", http.StatusOK, ""},
		{"missing token", app, "", "", http.StatusBadRequest, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := rowSnapshot(t, f.env)
			r := revokeToken(t, f.env, tc.c, tc.token, tc.hint)
			if tc.code == "" {
				wantRevoked200(t, r)
			} else {
				wantError(t, r, tc.status, tc.code)
			}
			unchanged(t, f.env, before)
		})
	}
	wantAccepted(t, f.env, f.a1)
	wantActive(t, introspectToken(t, f.env, app, f.r1, ""), true)

	// GET is the wrong method: a JSON error, and the token survives.
	get, _ := http.NewRequest(http.MethodGet, f.env.URL+"/revoke?token="+f.r1, nil)
	wantError(t, sendReq(t, get), http.StatusMethodNotAllowed, "invalid_request")
	mustRefresh(t, f.app, f.r1)
}

// TestRevokeByPublicClient: a public client authenticates with its
// client_id alone and may revoke its own tokens.
func TestRevokeByPublicClient(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	_, tok := offlineTokens(t, env, clients.Spec{ID: "spa", Public: true, Trusted: true})
	wantRevoked200(t, revokeToken(t, env, creds{id: "spa"}, tok.RefreshToken, ""))
	wantError(t, refreshWith(t, env, creds{id: "spa"}, tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
	wantRefused(t, env, tok.AccessToken)
}
