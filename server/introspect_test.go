package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestIntrospectLiveTokens: the owner sees its access and refresh tokens
// active with their claims, whichever hint it sends.
func TestIntrospectLiveTokens(t *testing.T) {
	t.Parallel()
	f := newRevokeFixture(t)
	user, err := f.env.Users.Store().ByEmail(context.Background(), testEmail)
	if err != nil {
		t.Fatal(err)
	}
	for _, hint := range []string{"", "access_token", "refresh_token"} {
		r := introspectToken(t, f.env, credsOf(f.app), f.a1, hint)
		wantActive(t, r, true)
		if r.str("token_type") != "access_token" || r.str("sub") != user.ID || r.str("client_id") != "app" ||
			r.str("username") != testEmail || r.str("iss") != f.env.URL || r.str("jti") == "" ||
			r.str("scope") != "openid email profile offline_access" || r.body["exp"] == nil || r.body["iat"] == nil {
			t.Errorf("access token, hint %q: %s", hint, r.raw)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		r = introspectToken(t, f.env, credsOf(f.app), f.r1, hint)
		wantActive(t, r, true)
		if r.str("token_type") != "refresh_token" || r.str("sub") != user.ID || r.str("client_id") != "app" {
			t.Errorf("refresh token, hint %q: %s", hint, r.raw)
		}
	}
}

// TestIntrospectInactive: everything that is not a live token of the
// caller is active:false and nothing more.
func TestIntrospectInactive(t *testing.T) {
	t.Parallel()
	f := newRevokeFixture(t)
	app := credsOf(f.app)
	cases := []struct {
		name  string
		c     creds
		token string
	}{
		{"another client's access token", credsOf(f.other), f.a1},
		{"another client's refresh token", credsOf(f.other), f.r1},
		{"a rotated refresh token", app, f.r0},
		{"an ID token", app, f.i1},
		{"garbage", app, "not-a-token"},
		{"a JWT with a forged signature", app, f.a1[:strings.LastIndex(f.a1, ".")+1] + "AAAA"},
		{"empty", app, ""},
	}
	before := rowSnapshot(t, f.env)
	for _, tc := range cases {
		for _, hint := range []string{"", "access_token", "refresh_token"} {
			wantActive(t, introspectToken(t, f.env, tc.c, tc.token, hint), false)
		}
	}
	unchanged(t, f.env, before)
	// Peeking did not disturb the owner's view.
	wantActive(t, introspectToken(t, f.env, app, f.a1, ""), true)
	wantActive(t, introspectToken(t, f.env, app, f.r1, ""), true)
}

// TestIntrospectNeedsClientAuth: 401 invalid_client without valid
// credentials, and no answer about the token.
func TestIntrospectNeedsClientAuth(t *testing.T) {
	t.Parallel()
	f := newRevokeFixture(t)
	app := credsOf(f.app)
	for _, c := range []creds{{}, {app.id, app.secret + "x"}, {app.id, ""}, {"nobody", app.secret}} {
		r := introspectToken(t, f.env, c, f.a1, "")
		wantError(t, r, http.StatusUnauthorized, "invalid_client")
		if _, ok := r.body["active"]; ok {
			t.Fatalf("an unauthenticated caller learned about the token: %s", r.raw)
		}
	}
}

// TestIntrospectExpiredAndDisabled: an access token past its expiry (and
// the 30 s leeway) is inactive; so is every token of a disabled user.
func TestIntrospectExpiredAndDisabled(t *testing.T) {
	t.Parallel()
	f := newRevokeFixture(t)
	app := credsOf(f.app)
	f.env.Clock.Advance(10*time.Minute + 31*time.Second)
	wantActive(t, introspectToken(t, f.env, app, f.a1, ""), false)
	wantActive(t, introspectToken(t, f.env, app, f.r1, ""), true)
	tr := mustRefresh(t, f.app, f.r1)
	wantActive(t, introspectToken(t, f.env, app, tr.AccessToken, ""), true)

	if err := f.env.Users.Disable(context.Background(), testEmail); err != nil {
		t.Fatal(err)
	}
	wantActive(t, introspectToken(t, f.env, app, tr.AccessToken, ""), false)
	wantActive(t, introspectToken(t, f.env, app, tr.RefreshToken, ""), false)
}
