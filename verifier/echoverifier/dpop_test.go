package echoverifier_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/dpop/dpoptest"
	"idp/server/servertest"
	"idp/verifier"
	"idp/verifier/echoverifier"
)

// TestDPoPEchoMiddleware: the Echo adapter takes a DPoP-bound token with
// its proof once, refuses the replay and the token without a proof.
func TestDPoPEchoMiddleware(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	c, secret := env.CreateClient(t, clients.Spec{ID: "orders", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}})
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: env.URL, Audience: c.ID, Now: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	key := dpoptest.NewKey(t)
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", key.Proof(t, http.MethodPost, env.URL+"/token", dpoptest.Opts{IAT: env.Clock.Now()}))
	req.SetBasicAuth(c.ID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()

	e := echo.New()
	e.GET("/api/me", func(c echo.Context) error { return c.String(http.StatusOK, echoverifier.Claims(c).JKT) },
		echoverifier.Middleware(v))
	proof := key.Proof(t, http.MethodGet, "http://example.com/api/me", dpoptest.Opts{IAT: env.Clock.Now(), AccessToken: body.AccessToken})
	for i, want := range []int{200, 401} {
		r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		r.Header.Set("Authorization", "DPoP "+body.AccessToken)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != want || (want == 200 && w.Body.String() != key.JKT) ||
			(want == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`)) {
			t.Fatalf("use %d: %d %s %q", i+1, w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+body.AccessToken)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP error="invalid_token"`) {
		t.Fatalf("bound token as Bearer: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}
