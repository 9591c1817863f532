package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

// tryLogin posts the sign-in form and returns the status and page.
func tryLogin(t *testing.T, env *servertest.Env, b *http.Client, email, password string) (*http.Response, *servertest.Page) {
	t.Helper()
	_, page := env.Get(t, b, "/login")
	return env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "email": {email}, "password": {password}})
}

func TestSignInThrottling(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	b := env.Browser(t)
	// Five failures are free, for a known and an unknown account alike.
	for _, email := range []string{testEmail, "nobody@example.com"} {
		for i := range 6 {
			resp, page := tryLogin(t, env, b, email, "wrong password!")
			if resp.StatusCode != http.StatusUnauthorized || page.Alert() != "Wrong email or password." {
				t.Fatalf("%s failure %d: %d %q", email, i+1, resp.StatusCode, page.Alert())
			}
		}
		// The sixth failure imposed a wait: even the right password is
		// refused now, before it is checked, with Retry-After.
		resp, page := tryLogin(t, env, b, email, testPassword)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(page.Alert(), "Too many failed attempts") {
			t.Fatalf("%s throttled: %d %q %q", email, resp.StatusCode, resp.Header.Get("Retry-After"), page.Alert())
		}
	}
	env.Clock.Advance(2 * time.Second)
	if resp, _ := tryLogin(t, env, b, testEmail, testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the wait the right password must work: %d", resp.StatusCode)
	}
	// The success forgot this account's failures: one more failure is free.
	if resp, _ := tryLogin(t, env, env.Browser(t), testEmail, "wrong password!"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after a success: %d", resp.StatusCode)
	}
}

func TestSuccessfulSignInsAreNeverThrottled(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	for i := range 30 {
		if resp, _ := tryLogin(t, env, env.Browser(t), testEmail, testPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d", i+1, resp.StatusCode)
		}
	}
}

func TestTokenEndpointClientLimit(t *testing.T) {
	env := servertest.New(t, func(c *server.Config) { c.TokenRateLimit = 1 })
	_, secret := env.CreateClient(t, clients.Spec{ID: "m2m", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}})
	post := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("m2m", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	codes := []int{post().StatusCode, post().StatusCode}
	resp := post()
	if codes[0] != 200 || codes[1] != 200 || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("statuses %v then %d (Retry-After %q)", codes, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestTokenEndpointUnlimitedByDefault(t *testing.T) {
	env := servertest.New(t)
	_, secret := env.CreateClient(t, clients.Spec{ID: "m2m", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}})
	for i := range 20 {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("m2m", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
}
