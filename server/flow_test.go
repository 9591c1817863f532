package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
)

const (
	testEmail    = "ada@example.com"
	testPassword = "correct horse battery staple"
	testRedirect = "http://127.0.0.1:9555/callback"
)

// rp is a relying party built only from public libraries: go-oidc for
// discovery and verification, x/oauth2 for the exchange.
type rp struct {
	provider *oidc.Provider
	conf     oauth2.Config
	public   bool
}

func newRP(t *testing.T, env *servertest.Env, spec clients.Spec) *rp {
	t.Helper()
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = []string{testRedirect}
	}
	client, secret := env.CreateClient(t, spec)
	provider, err := oidc.NewProvider(context.Background(), env.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{provider: provider, public: spec.Public, conf: oauth2.Config{
		ClientID: client.ID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: testRedirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
	}}
}

func TestCodeFlowWithRealRelyingParty(t *testing.T) {
	cases := []struct {
		name string
		spec clients.Spec
		alg  string
	}{
		{"RS256 confidential with consent", clients.Spec{ID: "rs-app", Name: "RS App", SigningAlg: "RS256"}, "RS256"},
		{"ES256 trusted", clients.Spec{ID: "es-app", SigningAlg: "ES256", Trusted: true}, "ES256"},
		{"public PKCE", clients.Spec{ID: "spa", Public: true}, "RS256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.New(t)
			user := env.CreateUser(t, testEmail, testPassword, "staff")
			app := newRP(t, env, tc.spec)
			ctx := context.Background()

			verifier := oauth2.GenerateVerifier()
			authURL := app.conf.AuthCodeURL("st4te", oidc.Nonce("n0nce"), oauth2.S256ChallengeOption(verifier))
			loc := env.Authorize(t, env.Browser(t), authURL, testEmail, testPassword)
			q := loc.Query()
			if loc.Scheme+"://"+loc.Host+loc.Path != testRedirect || q.Get("state") != "st4te" || q.Get("iss") != env.URL {
				t.Fatalf("redirect %s lacks redirect_uri, state or iss", loc)
			}
			tok, err := app.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			rawID, _ := tok.Extra("id_token").(string)
			idt, err := app.provider.Verifier(&oidc.Config{ClientID: app.conf.ClientID}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("verify ID token: %v", err)
			}
			if idt.Subject != user.ID || idt.Nonce != "n0nce" || idt.Issuer != env.URL {
				t.Errorf("ID token sub/nonce/iss = %s/%s/%s", idt.Subject, idt.Nonce, idt.Issuer)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			var claims struct {
				Email    string `json:"email"`
				AuthTime int64  `json:"auth_time"`
				AZP      string `json:"azp"`
			}
			if err := idt.Claims(&claims); err != nil || claims.Email != testEmail || claims.AuthTime == 0 || claims.AZP != app.conf.ClientID {
				t.Errorf("ID token claims %+v, %v", claims, err)
			}
			checkAccessToken(t, env, app, tok.AccessToken, tc.alg, user.ID)

			info, err := app.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || info.Subject != user.ID || info.Email != testEmail {
				t.Fatalf("userinfo: %+v, %v", info, err)
			}
		})
	}
}

// checkAccessToken verifies the RFC 9068 access token against the JWKS
// fetched over HTTP, as a resource server would.
func checkAccessToken(t *testing.T, env *servertest.Env, app *rp, raw, alg, sub string) {
	t.Helper()
	ctx := context.Background()
	keySet := oidc.NewRemoteKeySet(ctx, env.URL+"/.well-known/jwks.json")
	v := oidc.NewVerifier(env.URL, keySet, &oidc.Config{ClientID: app.conf.ClientID, SupportedSigningAlgs: []string{alg}})
	at, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify access token with %s: %v", alg, err)
	}
	var c struct {
		ClientID string   `json:"client_id"`
		Scope    string   `json:"scope"`
		Roles    []string `json:"roles"`
		JTI      string   `json:"jti"`
	}
	if err := at.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if at.Subject != sub || c.ClientID != app.conf.ClientID || c.JTI == "" || !strings.Contains(c.Scope, "openid") ||
		len(c.Roles) != 1 || c.Roles[0] != "staff" {
		t.Errorf("access token claims: sub %s %+v", at.Subject, c)
	}
	hdr := strings.SplitN(raw, ".", 2)[0]
	if !strings.Contains(decodeSegment(t, hdr), `"typ":"at+jwt"`) {
		t.Errorf("access token header %s lacks typ at+jwt", decodeSegment(t, hdr))
	}
}

func TestDiscoveryListsWhatWorks(t *testing.T) {
	env := servertest.New(t)
	p, err := oidc.NewProvider(context.Background(), env.URL)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Token   string   `json:"token_endpoint"`
		UI      string   `json:"userinfo_endpoint"`
		PKCE    []string `json:"code_challenge_methods_supported"`
		ISSResp bool     `json:"authorization_response_iss_parameter_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{doc.Token, doc.UI} {
		resp, err := http.Post(u, "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("discovery names %s but it is not served", u)
		}
	}
	if len(doc.PKCE) != 1 || doc.PKCE[0] != "S256" || !doc.ISSResp {
		t.Errorf("discovery: %+v", doc)
	}
}

// TestIDTokenClaimsFollowScopes checks CONTRACT.md's ID token: email and
// email_verified only with scope email, name only with scope profile.
func TestIDTokenClaimsFollowScopes(t *testing.T) {
	env := servertest.New(t)
	u, err := env.Users.Create(context.Background(), testEmail, testPassword, "Ada Lovelace", nil)
	if err != nil {
		t.Fatal(err)
	}
	app := newRP(t, env, clients.Spec{ID: "scopes", Trusted: true})
	for _, tc := range []struct {
		scopes              []string
		wantEmail, wantName bool
	}{
		{[]string{"openid"}, false, false},
		{[]string{"openid", "email"}, true, false},
		{[]string{"openid", "profile"}, false, true},
	} {
		app.conf.Scopes = tc.scopes
		v := oauth2.GenerateVerifier()
		loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
		tok, err := app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := app.provider.Verifier(&oidc.Config{ClientID: "scopes"}).Verify(context.Background(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		_, hasEmail := c["email"]
		_, hasVerified := c["email_verified"]
		if hasEmail != tc.wantEmail || hasVerified != tc.wantEmail || (c["name"] == "Ada Lovelace") != tc.wantName ||
			c["sub"] != u.ID || c["azp"] != "scopes" || c["at_hash"] == nil || c["auth_time"] == nil {
			t.Errorf("scopes %v: claims %v", tc.scopes, c)
		}
	}
}
