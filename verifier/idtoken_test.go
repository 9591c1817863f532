package verifier_test

import (
	"context"
	"testing"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
	"idp/verifier"
)

const (
	testEmail    = "ada@example.com"
	testPassword = "correct horse battery staple"
	testRedirect = "http://127.0.0.1:9555/callback"
)

// TestIDToken runs a real authorization code flow and checks the ID token.
func TestIDToken(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	user := env.CreateUser(t, testEmail, testPassword)
	c, secret := env.CreateClient(t, clients.Spec{ID: "web", SigningAlg: "ES256", Trusted: true, RedirectURIs: []string{testRedirect}})
	conf := oauth2.Config{
		ClientID: c.ID, ClientSecret: secret, RedirectURL: testRedirect, Scopes: []string{"openid", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: env.URL + "/authorize", TokenURL: env.URL + "/token"},
	}
	ctx := context.Background()
	pkce := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t),
		conf.AuthCodeURL("st", oauth2.SetAuthURLParam("nonce", "n-123"), oauth2.S256ChallengeOption(pkce)),
		testEmail, testPassword)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)

	v, err := verifier.New(ctx, verifier.Config{Issuer: env.URL, Audience: c.ID, Now: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.VerifyIDToken(ctx, rawID, "n-123")
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if id.Subject != user.ID || id.Email != testEmail || id.AuthorizedParty != c.ID || id.Nonce != "n-123" ||
		id.AuthTime.IsZero() || id.AccessTokenHash == "" || id.Raw["sub"] != user.ID {
		t.Errorf("ID claims %+v", id)
	}
	if _, err := v.VerifyIDToken(ctx, rawID, ""); err != nil {
		t.Errorf("without a nonce to check: %v", err)
	}
	_, err = v.VerifyIDToken(ctx, rawID, "another")
	wantErr(t, err, verifier.ErrNonce)
	// Each kind of token is refused where the other is expected.
	_, err = v.VerifyIDToken(ctx, tok.AccessToken, "")
	wantErr(t, err, verifier.ErrTokenType)
	_, err = v.VerifyAccessToken(ctx, rawID)
	wantErr(t, err, verifier.ErrTokenType)
	// Another client's verifier refuses it.
	other, err := verifier.New(ctx, verifier.Config{Issuer: env.URL, Audience: "other", Now: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.VerifyIDToken(ctx, rawID, "")
	wantErr(t, err, verifier.ErrAudience)
}

// TestIDTokenAudienceRules covers aud and azp (OIDC Core §3.1.3.7 steps
// 3-5) with tokens signed by idp's keys.
func TestIDTokenAudienceRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	ctx := context.Background()
	id := func(edit func(map[string]any)) string {
		now := f.env.Clock.Now().Unix()
		c := map[string]any{"iss": f.env.URL, "sub": "u1", "aud": f.client, "exp": now + 600, "iat": now, "nonce": "n"}
		edit(c)
		return f.sign(t, "RS256", "JWT", c)
	}
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"single aud, no azp", id(func(map[string]any) {}), nil},
		{"no typ", f.sign(t, "RS256", "", map[string]any{"iss": f.env.URL, "sub": "u1", "aud": f.client,
			"exp": f.env.Clock.Now().Unix() + 60, "iat": f.env.Clock.Now().Unix()}), nil},
		{"several aud with our azp", id(func(c map[string]any) { c["aud"], c["azp"] = []string{f.client, "x"}, f.client }), nil},
		{"several aud, no azp", id(func(c map[string]any) { c["aud"] = []string{f.client, "x"} }), verifier.ErrAudience},
		{"azp of another client", id(func(c map[string]any) { c["azp"] = "x" }), verifier.ErrAudience},
		{"no sub", id(func(c map[string]any) { delete(c, "sub") }), verifier.ErrInvalidToken},
		{"expired", id(func(c map[string]any) { c["exp"] = f.env.Clock.Now().Unix() - 31 }), verifier.ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.VerifyIDToken(ctx, tc.tok, "")
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
}
