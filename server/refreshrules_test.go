package server_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

// TestRefreshScopeNarrowing: a refresh may ask for less than was granted
// (RFC 6749 §6) and gets exactly that, while the family keeps the full
// grant for the next refresh; asking for more is invalid_scope and spends
// nothing.
func TestRefreshScopeNarrowing(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	c := credsOf(app)

	r := refreshWith(t, env, c, tok.RefreshToken, url.Values{"scope": {"openid email"}})
	if r.status != http.StatusOK || r.str("scope") != "openid email" || r.str("id_token") == "" {
		t.Fatalf("narrowed refresh: %d %s", r.status, r.raw)
	}
	if at, err := env.Tokens.VerifyAccessToken(context.Background(), r.str("access_token")); err != nil || at.Scope != "openid email" {
		t.Fatalf("access token of a narrowed refresh: %+v, %v", at, err)
	}
	info := userinfoStatus(t, env, r.str("access_token"))
	if info.str("email") != testEmail || info.body["name"] != nil {
		t.Fatalf("userinfo of a narrowed token: %s", info.raw)
	}
	// Without openid there is no ID token.
	r = refreshWith(t, env, c, r.str("refresh_token"), url.Values{"scope": {"email"}})
	if r.status != http.StatusOK || r.str("scope") != "email" || r.str("id_token") != "" {
		t.Fatalf("refresh without openid: %d %s", r.status, r.raw)
	}
	// The next refresh without scope gets the whole grant back.
	r = refreshWith(t, env, c, r.str("refresh_token"), nil)
	if r.status != http.StatusOK || r.str("scope") != "openid email profile offline_access" {
		t.Fatalf("refresh after narrowing: %d %s", r.status, r.raw)
	}

	live := r.str("refresh_token")
	before := rowSnapshot(t, env)
	for _, scope := range []string{"openid email phone", "openid admin", "openid\x01"} {
		wantError(t, refreshWith(t, env, c, live, url.Values{"scope": {scope}}), http.StatusBadRequest, "invalid_scope")
	}
	unchanged(t, env, before)
	mustRefresh(t, app, live)
}

// TestRefreshRefusals: each case spoils one thing about an otherwise good
// refresh and wants the exact error, with the token store left as it was.
func TestRefreshRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name   string
		opts   []servertest.Option
		spoil  func(t *testing.T, env *servertest.Env, app *rp) creds
		status int
		code   string
		// ownerFails: a retry by the owner fails too (the cause remains);
		// otherwise the refusal must not have spent the token.
		ownerFails bool
	}{
		{"another client", nil, func(t *testing.T, env *servertest.Env, app *rp) creds {
			return credsOf(newRP(t, env, clients.Spec{ID: "other"}))
		}, http.StatusBadRequest, "invalid_grant", false},
		{"wrong secret", nil, func(t *testing.T, env *servertest.Env, app *rp) creds {
			return creds{app.conf.ClientID, app.conf.ClientSecret + "x"}
		}, http.StatusUnauthorized, "invalid_client", false},
		{"no client authentication", nil, func(t *testing.T, env *servertest.Env, app *rp) creds {
			return creds{}
		}, http.StatusUnauthorized, "invalid_client", false},
		{"user disabled", nil, func(t *testing.T, env *servertest.Env, app *rp) creds {
			if err := env.Users.Disable(ctx, testEmail); err != nil {
				t.Fatal(err)
			}
			return credsOf(app)
		}, http.StatusBadRequest, "invalid_grant", true},
		{"client deleted", nil, func(t *testing.T, env *servertest.Env, app *rp) creds {
			if err := env.Clients.Store().Delete(ctx, app.conf.ClientID); err != nil {
				t.Fatal(err)
			}
			return credsOf(app)
		}, http.StatusUnauthorized, "invalid_client", true},
		{"family past its absolute lifetime", []servertest.Option{func(c *server.Config) { c.RefreshTokenTTL = time.Hour }},
			func(t *testing.T, env *servertest.Env, app *rp) creds {
				env.Clock.Advance(time.Hour + time.Second)
				return credsOf(app)
			}, http.StatusBadRequest, "invalid_grant", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.New(t, tc.opts...)
			app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
			c := tc.spoil(t, env, app)
			before := rowSnapshot(t, env)
			wantError(t, refreshWith(t, env, c, tok.RefreshToken, nil), tc.status, tc.code)
			unchanged(t, env, before)
			r := refreshWith(t, env, credsOf(app), tok.RefreshToken, nil)
			if ok := r.status == http.StatusOK; ok == tc.ownerFails {
				t.Fatalf("after the refusal the owner's refresh gave %d %s", r.status, r.raw)
			}
		})
	}
}

// TestRefreshAbsoluteNotSliding: rotating does not extend a family; its
// last, fresh token dies with it.
func TestRefreshAbsoluteNotSliding(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.RefreshTokenTTL = time.Hour })
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	env.Clock.Advance(30 * time.Minute)
	tr := mustRefresh(t, app, tok.RefreshToken)
	env.Clock.Advance(29 * time.Minute)
	tr = mustRefresh(t, app, tr.RefreshToken)
	wantActive(t, introspectToken(t, env, credsOf(app), tr.RefreshToken, ""), true)
	env.Clock.Advance(time.Minute + time.Second)
	wantActive(t, introspectToken(t, env, credsOf(app), tr.RefreshToken, ""), false)
	wantError(t, refreshWith(t, env, credsOf(app), tr.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
}

// TestNoRefreshTokenUnlessOffline: a refresh token needs both the
// offline_access scope and a client allowed the refresh_token grant.
func TestNoRefreshTokenUnlessOffline(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		spec    clients.Spec
		offline bool
	}{
		{"without offline_access", clients.Spec{ID: "app", Trusted: true}, false},
		{"client without the refresh_token grant", clients.Spec{ID: "app", Trusted: true,
			GrantTypes: []string{clients.GrantAuthorizationCode}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.New(t)
			env.CreateUser(t, testEmail, testPassword)
			app := newRP(t, env, tc.spec)
			if tc.offline {
				app.conf.Scopes = append(app.conf.Scopes, "offline_access")
			}
			v := oauth2.GenerateVerifier()
			loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
			tok, err := app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken != "" || tok.AccessToken == "" {
				t.Fatalf("refresh token %q issued, access token %q", tok.RefreshToken, tok.AccessToken)
			}
			if n := rowCount(t, env, "refresh_families", ""); n != 0 {
				t.Fatalf("%d refresh families stored", n)
			}
			want := "invalid_grant"
			if tc.offline {
				want = "unauthorized_client" // the grant itself is not allowed
			}
			wantError(t, refreshWith(t, env, credsOf(app), "made-up", nil), http.StatusBadRequest, want)
		})
	}
}
