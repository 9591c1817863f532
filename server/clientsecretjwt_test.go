package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/clients"
	"idp/server/servertest"
)

// macAssertion MACs claims with secret (client_secret_jwt, OIDC Core §9).
func macAssertion(t *testing.T, secret string, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	return signJWT(t, jose.SigningKey{Algorithm: alg, Key: []byte(secret)}, claims)
}

// TestClientSecretJWT: a client registered for client_secret_jwt
// authenticates with a fresh assertion MACed with its secret at the token,
// introspection and revocation endpoints, and in no other way. The secret
// is kept sealed, never in the clear; forgeries, replays and the wrong
// method are invalid_client and get no token.
func TestClientSecretJWT(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	spec := clients.Spec{ID: "mac", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api"}}
	spec.TokenEndpointAuthMethod = clients.AuthSecretJWT
	_, secret := env.CreateClient(t, spec)
	if secret == "" {
		t.Fatal("a client_secret_jwt client got no secret")
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)

	tokenURL := env.URL + "/token"
	n := 0
	claims := func(change func(map[string]any)) map[string]any {
		n++
		now := env.Clock.Now()
		c := map[string]any{"iss": "mac", "sub": "mac", "aud": tokenURL, "jti": "mac-" + time.Now().Format("150405.000000000") + string(rune('a'+n%26)),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	token := func(assertion string) apiResult {
		return callAPI(t, env, "/token", creds{}, url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {jwtBearerType}, "client_assertion": {assertion}})
	}
	ok := func(name string, r apiResult) {
		t.Helper()
		if r.status != http.StatusOK || r.str("access_token") == "" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	refused := func(name string, r apiResult) {
		t.Helper()
		if r.status != http.StatusUnauthorized || r.str("error") != "invalid_client" || r.str("access_token") != "" {
			t.Errorf("%s: %d %s, want 401 invalid_client", name, r.status, r.raw)
		}
	}

	valid := macAssertion(t, secret, jose.HS256, claims(nil))
	ok("HS256 with the secret", token(valid))
	refused("the same assertion again", token(valid))
	ok("aud the issuer", token(macAssertion(t, secret, jose.HS256, claims(func(c map[string]any) { c["aud"] = env.URL }))))
	long := strings.Repeat("k", 64)
	refused("HS512, not offered", token(macAssertion(t, long, jose.HS512, claims(nil))))
	refused("another secret", token(macAssertion(t, strings.Repeat("x", 43), jose.HS256, claims(nil))))
	refused("expired", token(macAssertion(t, secret, jose.HS256, claims(func(c map[string]any) {
		c["exp"] = env.Clock.Now().Add(-5 * time.Minute).Unix()
	}))))
	refused("wrong aud", token(macAssertion(t, secret, jose.HS256, claims(func(c map[string]any) { c["aud"] = "https://evil.example/token" }))))
	refused("no jti", token(macAssertion(t, secret, jose.HS256, claims(func(c map[string]any) { delete(c, "jti") }))))
	refused("signed with a key instead", token(signAssertion(t, rsaKey, jose.RS256, "", claims(nil))))
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(claims(nil))
	refused("alg none", token(b64([]byte(`{"alg":"none"}`))+"."+b64(payload)+"."))
	refused("the secret itself, Basic", callAPI(t, env, "/token", creds{"mac", secret}, url.Values{"grant_type": {"client_credentials"}}))
	refused("the secret itself, in the form", callAPI(t, env, "/token", creds{}, url.Values{"grant_type": {"client_credentials"},
		"client_id": {"mac"}, "client_secret": {secret}}))

	// Introspection and revocation take the assertion for their own URL.
	at := token(macAssertion(t, secret, jose.HS256, claims(nil))).str("access_token")
	at2 := func(path string) url.Values {
		return url.Values{"token": {at}, "client_assertion_type": {jwtBearerType},
			"client_assertion": {macAssertion(t, secret, jose.HS256, claims(func(c map[string]any) { c["aud"] = env.URL + path }))}}
	}
	if r := callAPI(t, env, "/introspect", creds{}, at2("/introspect")); r.status != 200 || r.body["active"] != true {
		t.Errorf("introspection with a client_secret_jwt assertion: %d %s", r.status, r.raw)
	}
	if r := callAPI(t, env, "/revoke", creds{}, at2("/revoke")); r.status != 200 {
		t.Errorf("revocation with a client_secret_jwt assertion: %d %s", r.status, r.raw)
	}

	// The row holds no secret in the clear, and its sealed form is bound to
	// this client: copied onto another client's row it does not open.
	var sealed []byte
	if err := env.DB.Gorm.Raw(`SELECT secret_sealed FROM clients WHERE id = ?`, "mac").Row().Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 || bytes.Contains(sealed, []byte(secret)) {
		t.Fatalf("sealed secret: %d bytes, holds the secret: %v", len(sealed), bytes.Contains(sealed, []byte(secret)))
	}
	twin := spec
	twin.ID = "mac-twin"
	_, twinSecret := env.CreateClient(t, twin)
	if err := env.DB.Gorm.Exec(`UPDATE clients SET secret_sealed = ? WHERE id = ?`, sealed, "mac-twin").Error; err != nil {
		t.Fatal(err)
	}
	twinClaims := claims(func(c map[string]any) { c["iss"], c["sub"] = "mac-twin", "mac-twin" })
	refused("another client's sealed secret", token(macAssertion(t, secret, jose.HS256, twinClaims)))
	refused("its own secret, after the swap", token(macAssertion(t, twinSecret, jose.HS256, twinClaims)))

	// A regenerated secret replaces the old one at once.
	fresh, err := env.Clients.RegenerateSecret(context.Background(), "mac")
	if err != nil {
		t.Fatal(err)
	}
	refused("the old secret after regeneration", token(macAssertion(t, secret, jose.HS256, claims(nil))))
	ok("the new secret", token(macAssertion(t, fresh, jose.HS256, claims(nil))))

	// Leaving client_secret_jwt keeps the secret (for Basic) and forgets
	// its sealed copy; a client whose secret exists only as a hash cannot
	// switch to it.
	basic := clients.SpecOf(mustClient(t, env, "mac"))
	basic.TokenEndpointAuthMethod = clients.AuthSecretBasic
	if _, err := env.Clients.Update(context.Background(), basic); err != nil {
		t.Fatal(err)
	}
	ok("Basic with the same secret after leaving client_secret_jwt", callAPI(t, env, "/token", creds{"mac", fresh}, url.Values{"grant_type": {"client_credentials"}}))
	refused("an assertion after leaving client_secret_jwt", token(macAssertion(t, fresh, jose.HS256, claims(nil))))
	back := clients.SpecOf(mustClient(t, env, "mac"))
	back.TokenEndpointAuthMethod = clients.AuthSecretJWT
	if _, err := env.Clients.Update(context.Background(), back); !errors.Is(err, clients.ErrInvalidSpec) || !strings.Contains(err.Error(), "client_secret_jwt") {
		t.Fatalf("switching a hashed-secret client to client_secret_jwt: %v", err)
	}

	_, doc := get(t, env.URL+"/.well-known/openid-configuration")
	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
		Algs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	}
	_ = json.Unmarshal(doc, &meta)
	if !strings.Contains(strings.Join(meta.Methods, " "), "client_secret_jwt") || !strings.Contains(strings.Join(meta.Algs, " "), "HS256") {
		t.Errorf("discovery does not list client_secret_jwt and HS256: %+v", meta)
	}
}

// TestRegisterClientSecretJWTClient: a client registering for
// client_secret_jwt (RFC 7591) receives its secret once and authenticates
// with an assertion MACed with it; a public client cannot register it.
func TestRegisterClientSecretJWTClient(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	tok := initialToken(t, env, time.Hour, 2)
	status, body, _ := register(t, env, "POST", "/register", tok, map[string]any{"grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_jwt", "scope": "api"})
	secret, _ := body["client_secret"].(string)
	if status != 201 || body["token_endpoint_auth_method"] != "client_secret_jwt" || secret == "" {
		t.Fatalf("register: %d %v", status, body)
	}
	id := body["client_id"].(string)
	now := env.Clock.Now()
	a := macAssertion(t, secret, jose.HS256, map[string]any{"iss": id, "sub": id, "aud": env.URL + "/token", "jti": "once",
		"exp": now.Add(time.Minute).Unix()})
	if r := callAPI(t, env, "/token", creds{}, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearerType},
		"client_assertion": {a}}); r.status != 200 {
		t.Fatalf("the registered client's assertion: %d %s", r.status, r.raw)
	}
	if status, body, _ := register(t, env, "POST", "/register", tok, map[string]any{"redirect_uris": []string{"https://app.example/cb"},
		"token_endpoint_auth_method": "client_secret_jwt", "jwks_uri": "https://app.example/jwks"}); status != 400 || body["error"] != "invalid_client_metadata" {
		t.Fatalf("client_secret_jwt with keys: %d %v", status, body)
	}
}

func mustClient(t *testing.T, env *servertest.Env, id string) *clients.Client {
	t.Helper()
	c, err := env.Clients.Store().ByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
