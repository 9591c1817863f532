package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/tokens"
)

// wantBearerError checks an RFC 6750 §3 refusal: status, JSON error and a
// Bearer challenge naming the same error.
func wantBearerError(t *testing.T, r tokenResult, status int, code string) {
	t.Helper()
	wantOAuthError(t, r, status, code)
	ch := r.resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="`+code+`"`) {
		t.Errorf("WWW-Authenticate %q, want Bearer with error=%q", ch, code)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signJWS signs payload with key (any go-jose signing key) as compact JWS.
func signJWS(t *testing.T, alg jose.SignatureAlgorithm, key any, kid, typ string, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// publishedKey fetches the JWKS over HTTP, as an attacker would, and
// returns the public key with kid.
func publishedKey(t *testing.T, jwksURL, kid string) jose.JSONWebKey {
	t.Helper()
	resp, body := get(t, jwksURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %s is not published", kid)
	}
	return keys[0]
}

func TestUserInfoRefusesBadTokens(t *testing.T) {
	f := newFixture(t)
	env := f.env
	tok := f.exchange(t, firstID, f.code(t, env.Browser(t), firstID, nil), "")
	at, idToken := tok.str("access_token"), tok.str("id_token")
	parts := strings.Split(at, ".")
	var hdr struct{ Kid, Alg string }
	if err := json.Unmarshal([]byte(decodeSegment(t, parts[0])), &hdr); err != nil || hdr.Alg != "RS256" {
		t.Fatalf("access token header %s: %v", decodeSegment(t, parts[0]), err)
	}
	payload := []byte(decodeSegment(t, parts[1]))

	// The attacker's own key, and the real public key in the shapes an
	// HMAC confusion attack would feed as the secret.
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := publishedKey(t, env.URL+"/.well-known/jwks.json", hdr.Kid)
	der, err := x509.MarshalPKIXPublicKey(pub.Key)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkJSON, _ := pub.MarshalJSON()

	// A middle character carries six full bits: changing it changes the
	// signature bytes.
	sig := []byte(parts[2])
	if i := len(sig) / 2; sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	cases := []struct {
		name, token string
	}{
		{"alg none", b64(`{"alg":"none","typ":"at+jwt"}`) + "." + parts[1] + "."},
		{"alg none with a published kid", b64(`{"alg":"none","kid":"`+hdr.Kid+`","typ":"at+jwt"}`) + "." + parts[1] + "."},
		{"alg none with the original signature", b64(`{"alg":"none","kid":"`+hdr.Kid+`","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2]},
		{"flipped signature byte", parts[0] + "." + parts[1] + "." + string(sig)},
		{"signature removed", parts[0] + "." + parts[1] + "."},
		{"payload changed", parts[0] + "." + b64(strings.Replace(string(payload), `"openid`, `"openid profile`, 1)) + "." + parts[2]},
		{"signed by an unknown key", signJWS(t, jose.RS256, attacker, "not-published", "at+jwt", payload)},
		{"unknown key under a published kid", signJWS(t, jose.RS256, attacker, hdr.Kid, "at+jwt", payload)},
		{"HS256 keyed with the PEM public key", signJWS(t, jose.HS256, pemKey, hdr.Kid, "at+jwt", payload)},
		{"HS256 keyed with the DER public key", signJWS(t, jose.HS256, der, hdr.Kid, "at+jwt", payload)},
		{"HS256 keyed with the JWK", signJWS(t, jose.HS256, jwkJSON, hdr.Kid, "at+jwt", payload)},
		{"ID token instead of an access token", idToken},
		{"not a JWT", "not-a-jwt"},
		{"four segments", at + ".x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantBearerError(t, userinfo(t, env, tc.token), http.StatusUnauthorized, "invalid_token")
		})
	}

	t.Run("missing token", func(t *testing.T) {
		res := userinfo(t, env, "")
		if res.resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("status %d, WWW-Authenticate %q", res.resp.StatusCode, res.resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("control: the real token works", func(t *testing.T) {
		res := userinfo(t, env, at)
		if res.resp.StatusCode != http.StatusOK || res.str("sub") != f.user.ID || res.str("email") != testEmail {
			t.Errorf("userinfo %d %s", res.resp.StatusCode, res.raw)
		}
	})
	t.Run("expired", func(t *testing.T) {
		env.Clock.Advance(10*time.Minute + 30*time.Second)
		wantBearerError(t, userinfo(t, env, at), http.StatusUnauthorized, "invalid_token")
	})
}

// TestUserInfoWithinLeeway: a token a few seconds past exp still works
// (30 s leeway), so the expired case above is about the clock, not luck.
func TestUserInfoWithinLeeway(t *testing.T) {
	f := newFixture(t)
	env := f.env
	tok := f.exchange(t, firstID, f.code(t, env.Browser(t), firstID, nil), "")
	env.Clock.Advance(10*time.Minute + 29*time.Second)
	if res := userinfo(t, env, tok.str("access_token")); res.resp.StatusCode != http.StatusOK {
		t.Errorf("inside the leeway: %d %s", res.resp.StatusCode, res.raw)
	}
}

func TestUserInfoNeedsOpenIDScope(t *testing.T) {
	f := newFixture(t)
	env := f.env
	now := env.Clock.Now()
	resp, err := env.Tokens.Mint(context.Background(), "RS256", &tokens.Grant{
		ClientID: firstID, UserID: f.user.ID, Scopes: []string{"email", "profile"}, AuthTime: now,
		JTI: "no-openid", AccessExpiresAt: now.Add(10 * time.Minute),
	}, f.user)
	if err != nil {
		t.Fatal(err)
	}
	wantBearerError(t, userinfo(t, env, resp.AccessToken), http.StatusForbidden, "insufficient_scope")
}

func TestUserInfoRefusesDisabledUser(t *testing.T) {
	f := newFixture(t)
	env := f.env
	tok := f.exchange(t, firstID, f.code(t, env.Browser(t), firstID, nil), "")
	if err := env.Users.Disable(context.Background(), testEmail); err != nil {
		t.Fatal(err)
	}
	wantBearerError(t, userinfo(t, env, tok.str("access_token")), http.StatusUnauthorized, "invalid_token")
}
