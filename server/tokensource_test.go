package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

// TestTokenSourceRefreshChain drives x/oauth2's own refresher through five
// rotations, as a relying party's HTTP client does when its access token
// runs out. x/oauth2 judges expiry by the real clock; an early-expiry
// margin longer than the token lifetime makes it refresh on every use,
// while the server's clock is moved past each token's expiry.
func TestTokenSourceRefreshChain(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) { c.AccessTokenTTL = time.Minute })
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	ctx := context.Background()
	if tok.ExpiresIn != 60 {
		t.Fatalf("expires_in %d, want 60", tok.ExpiresIn)
	}

	src := oauth2.ReuseTokenSourceWithExpiry(tok, app.conf.TokenSource(ctx, tok), 2*time.Minute)
	verifier := app.provider.Verifier(&oidc.Config{ClientID: "app", Now: env.Clock.Now})
	seen := map[string]bool{tok.RefreshToken: true}
	prev := tok
	for i := range 5 {
		// Past expiry and the server's 30 s leeway.
		env.Clock.Advance(time.Minute + 31*time.Second)
		wantRefused(t, env, prev.AccessToken)

		cur, err := src.Token()
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		if cur.AccessToken == prev.AccessToken || seen[cur.RefreshToken] {
			t.Fatalf("rotation %d did not rotate", i)
		}
		seen[cur.RefreshToken] = true
		rawID, _ := cur.Extra("id_token").(string)
		if _, err := verifier.Verify(ctx, rawID); err != nil {
			t.Fatalf("rotation %d: ID token: %v", i, err)
		}
		if info, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(cur)); err != nil || info.Email != testEmail {
			t.Fatalf("rotation %d: userinfo %+v, %v", i, info, err)
		}
		wantActive(t, introspectToken(t, env, credsOf(app), prev.RefreshToken, ""), false)
		wantActive(t, introspectToken(t, env, credsOf(app), cur.RefreshToken, ""), true)
		prev = cur
	}

	// The same source behind an HTTP client: the request refreshes once
	// more and is sent with the new access token.
	env.Clock.Advance(time.Minute + time.Second)
	resp, err := oauth2.NewClient(ctx, src).Get(env.URL + "/userinfo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo through the oauth2 client: %d", resp.StatusCode)
	}
	family := familyOf(t, env, tok.RefreshToken)
	if n := rowCount(t, env, "refresh_tokens", "family_id = ?", family); n != 7 {
		t.Fatalf("family holds %d tokens, want 7", n)
	}
	if n := rowCount(t, env, "refresh_tokens", "family_id = ? AND used_at IS NULL", family); n != 1 {
		t.Fatalf("%d unused tokens in the family, want 1", n)
	}
}
