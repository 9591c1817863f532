package verifier_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/verifier"
)

func TestRealAccessTokensVerify(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			tok := f.token(t, "api")
			if got := header(t, tok)["alg"]; got != alg {
				t.Fatalf("idp signed with %v, want %s", got, alg)
			}
			c, err := f.v.VerifyAccessToken(context.Background(), tok)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			now := f.env.Clock.Now()
			if c.Issuer != f.env.URL || c.Subject != f.client || c.ClientID != f.client || c.JTI == "" ||
				len(c.Audience) != 1 || c.Audience[0] != f.client || !c.ExpiresAt.Equal(now.Add(10*time.Minute)) ||
				!c.IssuedAt.Equal(now) || c.Raw["client_id"] != f.client {
				t.Errorf("claims %+v", c)
			}
			if !c.HasScope("api") || c.HasScope("ap") || c.HasRole("admin") {
				t.Errorf("HasScope/HasRole wrong for scope %q roles %v", c.Scope, c.Roles)
			}
			if n := f.count.jwks.Load(); n != 1 {
				t.Errorf("%d JWKS fetches, want only New's", n)
			}
		})
	}
}

func TestBadAccessTokensAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	ctx := context.Background()
	good := f.token(t, "api")
	rsKID := kid(t, good)
	esKID := kid(t, f.sign(t, "ES256", "at+jwt", f.claims()))
	now := f.env.Clock.Now().Unix()
	with := func(k string, v any) map[string]any {
		c := f.claims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hdr := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"} }

	cases := []struct {
		name string
		tok  string
		want error // nil: must verify
	}{
		{"idp's own token", good, nil},
		{"exp within the leeway", f.sign(t, "RS256", "at+jwt", with("exp", now-29)), nil},
		{"typ application/at+jwt", f.sign(t, "RS256", "application/at+jwt", f.claims()), nil},
		{"aud array containing ours", f.sign(t, "RS256", "at+jwt", with("aud", []string{"other", f.client})), nil},
		{"wrong iss", f.sign(t, "RS256", "at+jwt", with("iss", f.env.URL+"/")), verifier.ErrIssuer},
		{"wrong aud", f.sign(t, "RS256", "at+jwt", with("aud", "other-api")), verifier.ErrAudience},
		{"no aud", f.sign(t, "RS256", "at+jwt", with("aud", nil)), verifier.ErrAudience},
		{"expired", f.sign(t, "RS256", "at+jwt", with("exp", now-31)), verifier.ErrExpired},
		{"nbf in the future", f.sign(t, "RS256", "at+jwt", with("nbf", now+31)), verifier.ErrNotYetValid},
		{"iat in the future", f.sign(t, "RS256", "at+jwt", with("iat", now+31)), verifier.ErrNotYetValid},
		{"no exp", f.sign(t, "RS256", "at+jwt", with("exp", nil)), verifier.ErrInvalidToken},
		{"no jti", f.sign(t, "RS256", "at+jwt", with("jti", nil)), verifier.ErrInvalidToken},
		{"exp not a number", f.sign(t, "RS256", "at+jwt", with("exp", "tomorrow")), verifier.ErrInvalidToken},
		{"typ JWT (an ID token)", f.sign(t, "RS256", "JWT", f.claims()), verifier.ErrTokenType},
		{"no typ", f.sign(t, "RS256", "", f.claims()), verifier.ErrTokenType},
		{"alg none", rawJWS(t, hdr("none", rsKID), f.claims(), func([]byte) []byte { return nil }), verifier.ErrAlgorithm},
		{"HS256 keyed with the public key", rawJWS(t, hdr("HS256", rsKID), f.claims(), hmacWith(publicPEM(t, f, rsKID))), verifier.ErrAlgorithm},
		{"RS256 header on the ES256 key", rawJWS(t, hdr("RS256", esKID), f.claims(), rsaSign(rogueKey)), verifier.ErrAlgorithm},
		{"flipped signature byte", flipSignature(t, good), verifier.ErrSignature},
		{"unknown kid", rawJWS(t, hdr("RS256", "rogue"), f.claims(), rsaSign(rogueKey)), verifier.ErrUnknownKey},
		{"no kid", rawJWS(t, map[string]any{"alg": "RS256", "typ": "at+jwt"}, f.claims(), rsaSign(rogueKey)), verifier.ErrInvalidToken},
		{"not a JWS", "not.a.jwt", verifier.ErrInvalidToken},
		{"empty", "", verifier.ErrInvalidToken},
		{"JWS JSON serialization", `{"payload":"e30","signatures":[]}`, verifier.ErrInvalidToken},
		{"oversized", strings.Repeat("a", 20000) + ".b.c", verifier.ErrInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.v.VerifyAccessToken(ctx, tc.tok)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
}

// publicPEM fetches the JWKS as an attacker would and returns the PEM of
// the key kid: the classic secret for an RS256-to-HS256 confusion.
func publicPEM(t testing.TB, f *fixture, kid string) []byte {
	t.Helper()
	resp, err := http.Get(f.env.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %s not in the JWKS", kid)
	}
	der, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// hmacWith signs as HS256 does, with secret as the key.
func hmacWith(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

// flipSignature changes one bit of the decoded signature (flipping a
// base64 character could touch only padding bits).
func flipSignature(t testing.TB, tok string) string {
	t.Helper()
	i := strings.LastIndex(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "RS256")
	ctx := context.Background()
	cases := []struct {
		name string
		cfg  verifier.Config
		want string
	}{
		{"no audience", verifier.Config{Issuer: f.env.URL}, "Audience is required"},
		{"no issuer", verifier.Config{Audience: "x"}, "Issuer is required"},
		{"issuer differs from discovery", verifier.Config{Issuer: f.env.URL + "/", Audience: "x"}, "not the configured"},
		{"no discovery", verifier.Config{Issuer: f.env.URL + "/nowhere", Audience: "x"}, "status 404"},
		{"bad JWKS URL", verifier.Config{Issuer: f.env.URL, Audience: "x", JWKSURL: f.env.URL + "/nowhere"}, "status 404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := verifier.New(ctx, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
