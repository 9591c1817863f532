package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"idp/clients"
)

// TestPARClientAuthMethods: the PAR endpoint authenticates clients as the
// token endpoint does: client_secret_post, and private_key_jwt with the
// issuer or the PAR endpoint as audience (RFC 9126 §2); a replayed
// assertion is refused. The credentials never reach the stored request.
func TestPARClientAuthMethods(t *testing.T) {
	p := newPAREnv(t)
	env := p.env
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	env.CreateClient(t, clients.Spec{ID: "par-jwt", RedirectURIs: []string{testRedirect},
		Metadata: clients.Metadata{TokenEndpointAuthMethod: clients.AuthPrivateKeyJWT,
			JWKS: jwksOf(t, map[string]crypto.PublicKey{"ec-1": &key.PublicKey})}})
	verifier := oauth2.GenerateVerifier()

	post := authzParams(verifier)
	post.Set("client_id", "par-web")
	post.Set("client_secret", p.secret)
	if status, body, _ := p.push(t, "", "", post); status != http.StatusCreated {
		t.Fatalf("client_secret_post: %d %v", status, body)
	}

	assertion := func(aud, jti string) string {
		now := env.Clock.Now()
		return signAssertion(t, key, jose.ES256, "ec-1", map[string]any{"iss": "par-jwt", "sub": "par-jwt", "aud": aud,
			"jti": jti, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	}
	withAssertion := func(a string) url.Values {
		f := authzParams(verifier)
		f.Set("client_assertion_type", jwtBearerType)
		f.Set("client_assertion", a)
		return f
	}
	for _, aud := range []string{env.URL, env.URL + "/par"} {
		status, body, _ := p.push(t, "", "", withAssertion(assertion(aud, "jti-"+aud)))
		if status != http.StatusCreated {
			t.Fatalf("private_key_jwt for aud %s: %d %v", aud, status, body)
		}
		resp, _ := env.Get(t, env.Browser(t), p.authorizeURL("par-jwt", body["request_uri"].(string)))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("authorize with the pushed request: %d", resp.StatusCode)
		}
	}
	replayed := assertion(env.URL, "jti-once")
	if status, _, _ := p.push(t, "", "", withAssertion(replayed)); status != http.StatusCreated {
		t.Fatalf("first use: %d", status)
	}
	if status, body, _ := p.push(t, "", "", withAssertion(replayed)); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("replayed assertion: %d %v", status, body)
	}
	// An assertion made for the token endpoint is not for this one.
	if status, body, _ := p.push(t, "", "", withAssertion(assertion(env.URL+"/token", "jti-token"))); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("assertion for /token at /par: %d %v", status, body)
	}

	var leaked int64
	if err := env.DB.Gorm.Raw("SELECT COUNT(*) FROM pushed_requests WHERE params LIKE ? OR params LIKE ?",
		"%client_secret%", "%client_assertion%").Scan(&leaked).Error; err != nil {
		t.Fatal(err)
	}
	if leaked != 0 {
		t.Fatalf("%d stored pushed requests hold client credentials", leaked)
	}
}
