package server_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/clients"
	"idp/server/servertest"
)

const jwtBearerType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// signAssertion signs claims as a compact JWS with key.
func signAssertion(t *testing.T, key crypto.Signer, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	return signJWT(t, jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, claims)
}

// signJWT signs claims as a compact JWS of typ JWT.
func signJWT(t *testing.T, key jose.SigningKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jwksOf(t *testing.T, keys map[string]crypto.PublicKey) string {
	t.Helper()
	var set jose.JSONWebKeySet
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: kid, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPrivateKeyJWT: RFC 7523 client authentication at the token,
// introspection and revocation endpoints. Only a fresh assertion signed by
// a registered key, for this issuer or endpoint, unexpired and not too
// long-lived, authenticates; every forgery is invalid_client and gets no
// token.
func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var fetches atomic.Int32
	keyServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(jwksOf(t, map[string]crypto.PublicKey{"ec-1": &ecKey.PublicKey})))
	}))
	t.Cleanup(keyServer.Close)
	cc := clients.Spec{GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api"}}
	inline := cc
	inline.ID, inline.TokenEndpointAuthMethod = "svc", clients.AuthPrivateKeyJWT
	inline.JWKS = jwksOf(t, map[string]crypto.PublicKey{"rsa-1": &rsaKey.PublicKey})
	_, inlineSecret := env.CreateClient(t, inline)
	byURI := cc
	byURI.ID, byURI.TokenEndpointAuthMethod, byURI.JWKSURI = "svc-uri", clients.AuthPrivateKeyJWT, keyServer.URL+"/jwks"
	env.CreateClient(t, byURI)

	tokenURL := env.URL + "/token"
	n := 0
	claims := func(client string, change func(map[string]any)) map[string]any {
		n++
		now := env.Clock.Now()
		c := map[string]any{"iss": client, "sub": client, "aud": tokenURL, "jti": "jti-" + string(rune('a'+n%26)) + time.Now().Format("150405.000000000"),
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	token := func(assertion string, extra url.Values) apiResult {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearerType}, "client_assertion": {assertion}}
		for k, v := range extra {
			form[k] = v
		}
		return callAPI(t, env, "/token", creds{}, form)
	}
	ok := func(name string, r apiResult) {
		t.Helper()
		if r.status != http.StatusOK || r.str("access_token") == "" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	refused := func(name string, r apiResult, code string) {
		t.Helper()
		if r.status == http.StatusOK || r.str("error") != code || r.str("access_token") != "" {
			t.Errorf("%s: %d %s, want %s", name, r.status, r.raw, code)
		}
	}

	valid := signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", nil))
	ok("RS256 for the token endpoint", token(valid, nil))
	refused("the same assertion again", token(valid, nil), "invalid_client")
	ok("aud the issuer", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) { c["aud"] = env.URL })), nil))
	ok("aud a list", token(signAssertion(t, rsaKey, jose.PS256, "", claims("svc", func(c map[string]any) { c["aud"] = []string{"https://other.example", tokenURL} })), nil))
	ok("ES256 from jwks_uri", token(signAssertion(t, ecKey, jose.ES256, "ec-1", claims("svc-uri", nil)), nil))
	ok("ES256 from jwks_uri, cached", token(signAssertion(t, ecKey, jose.ES256, "ec-1", claims("svc-uri", nil)), nil))
	if f := fetches.Load(); f != 1 {
		t.Errorf("jwks_uri fetched %d times for two assertions, want 1", f)
	}

	refused("another key", token(signAssertion(t, otherKey, jose.RS256, "rsa-1", claims("svc", nil)), nil), "invalid_client")
	refused("another client's key", token(signAssertion(t, ecKey, jose.ES256, "ec-1", claims("svc", nil)), nil), "invalid_client")
	refused("expired", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) {
		c["exp"] = env.Clock.Now().Add(-5 * time.Minute).Unix()
	})), nil), "invalid_client")
	refused("two hours to live", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) {
		c["exp"] = env.Clock.Now().Add(2 * time.Hour).Unix()
	})), nil), "invalid_client")
	refused("no exp", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) { delete(c, "exp") })), nil), "invalid_client")
	refused("not yet valid", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) {
		c["nbf"] = env.Clock.Now().Add(10 * time.Minute).Unix()
	})), nil), "invalid_client")
	refused("wrong aud", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) { c["aud"] = "https://evil.example/token" })), nil), "invalid_client")
	refused("no jti", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) { delete(c, "jti") })), nil), "invalid_client")
	refused("iss is not sub", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) { c["iss"] = "svc-uri" })), nil), "invalid_client")
	refused("unknown client", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("ghost", nil)), nil), "invalid_client")

	// alg none, and HS256 keyed with the client's public key: never taken.
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(claims("svc", nil))
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload) + "."
	refused("alg none", token(none, nil), "invalid_client")
	pub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	head := b64([]byte(`{"alg":"HS256","typ":"JWT","kid":"rsa-1"}`))
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(head + "." + b64(payload)))
	refused("HS256 with the public key", token(head+"."+b64(payload)+"."+b64(mac.Sum(nil)), nil), "invalid_client")

	refused("with a secret as well", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", nil)),
		url.Values{"client_secret": {inlineSecret}}), "invalid_request")
	refused("another assertion type", callAPI(t, env, "/token", creds{}, url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:example:saml"}, "client_assertion": {valid}}), "invalid_client")
	refused("client_id of another client", token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", nil)),
		url.Values{"client_id": {"svc-uri"}}), "invalid_client")
	refused("the secret of a private_key_jwt client", callAPI(t, env, "/token", creds{"svc", inlineSecret},
		url.Values{"grant_type": {"client_credentials"}}), "invalid_client")

	// Introspection and revocation take assertions too, for their URL.
	at := token(signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", nil)), nil).str("access_token")
	intro := callAPI(t, env, "/introspect", creds{}, url.Values{"token": {at}, "client_assertion_type": {jwtBearerType},
		"client_assertion": {signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) { c["aud"] = env.URL + "/introspect" }))}})
	if intro.status != http.StatusOK || intro.body["active"] != true {
		t.Errorf("introspection with an assertion: %d %s", intro.status, intro.raw)
	}
	rev := callAPI(t, env, "/revoke", creds{}, url.Values{"token": {at}, "client_assertion_type": {jwtBearerType},
		"client_assertion": {signAssertion(t, rsaKey, jose.RS256, "rsa-1", claims("svc", func(c map[string]any) { c["aud"] = env.URL + "/revoke" }))}})
	if rev.status != http.StatusOK {
		t.Errorf("revocation with an assertion: %d %s", rev.status, rev.raw)
	}
	_, doc := get(t, env.URL+"/.well-known/openid-configuration")
	if !strings.Contains(string(doc), `"private_key_jwt"`) || !strings.Contains(string(doc), `"token_endpoint_auth_signing_alg_values_supported"`) {
		t.Errorf("discovery does not list private_key_jwt: %s", doc)
	}
}

// TestRegisterPrivateKeyJWTClient: a client registers with its public
// keys (RFC 7591 jwks), gets no usable secret, and authenticates with an
// assertion at once; a private key in the set is refused.
func TestRegisterPrivateKeyJWTClient(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var set map[string]any
	_ = json.Unmarshal([]byte(jwksOf(t, map[string]crypto.PublicKey{"k1": &key.PublicKey})), &set)
	tok := initialToken(t, env, time.Hour, 2)
	status, body, _ := register(t, env, "POST", "/register", tok, map[string]any{"grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": set, "scope": "api"})
	if status != 201 || body["token_endpoint_auth_method"] != "private_key_jwt" || body["jwks"] == nil {
		t.Fatalf("register: %d %v", status, body)
	}
	id := body["client_id"].(string)
	now := env.Clock.Now()
	a := signAssertion(t, key, jose.ES256, "k1", map[string]any{"iss": id, "sub": id, "aud": env.URL + "/token", "jti": "once",
		"exp": now.Add(time.Minute).Unix()})
	r := callAPI(t, env, "/token", creds{}, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearerType},
		"client_assertion": {a}})
	if r.status != 200 {
		t.Fatalf("the registered client's assertion: %d %s", r.status, r.raw)
	}
	if body["client_secret"] != nil {
		t.Fatalf("a private_key_jwt client got a secret: %v", body)
	}
	private, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
	var privSet map[string]any
	_ = json.Unmarshal(private, &privSet)
	if status, body, _ := register(t, env, "POST", "/register", tok, map[string]any{"grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": privSet}); status != 400 || body["error"] != "invalid_client_metadata" {
		t.Fatalf("a private key in jwks: %d %v", status, body)
	}
}
