package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunningServerSeesCLIChanges checks CONTRACT.md's promise that a
// running server sees what the admin commands change: users and clients
// at once, keys within 5 seconds.
func TestRunningServerSeesCLIChanges(t *testing.T) {
	d := newTestDB(t)
	s := startServe(t, d)

	// A client created now is accepted by the running server at once.
	mustRun(t, "", d.cmd("clients", "create", "--id", "live", "--trusted", "--redirect-uri", "http://127.0.0.1:9/cb")...)
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := b.Get(s.url + "/authorize?" + url.Values{"client_id": {"live"}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?req=") {
		t.Fatalf("new client not seen at once: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The running server now holds the client in memory (clients/cache.go);
	// deleted by the CLI, it is refused at once all the same.
	mustRun(t, "", d.cmd("clients", "delete", "--id", "live")...)
	resp, err = b.Get(s.url + "/authorize?" + url.Values{"client_id": {"live"}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("deleted client still accepted: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A user created now signs in at once; disabled, at once no more.
	mustRun(t, "password of the running user", d.cmd("users", "create", "--email", "live@example.com", "--password-stdin")...)
	signIn := func() int {
		t.Helper()
		resp, err := b.Get(s.url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
		if csrf == nil {
			t.Fatalf("no CSRF token on the sign-in page")
		}
		resp, err = b.PostForm(s.url+"/login", url.Values{"csrf_token": {string(csrf[1])},
			"email": {"live@example.com"}, "password": {"password of the running user"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := signIn(); code != http.StatusSeeOther {
		t.Fatalf("new user cannot sign in at once: %d", code)
	}
	mustRun(t, "", d.cmd("users", "disable", "--email", "live@example.com")...)
	if code := signIn(); code != http.StatusUnauthorized {
		t.Fatalf("disabled user still signs in: %d", code)
	}

	// A rotation made by the CLI reaches the running server's JWKS within 5 s.
	mustRun(t, "", d.cmd("keys", "rotate", "--force", "--alg", "ES256")...)
	var next string
	for _, k := range keysBy(listKeys(t, d), "ES256", "next") {
		next = k.KID
	}
	start := time.Now()
	for {
		var jwks struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		getJSON(t, s.url+"/.well-known/jwks.json", &jwks)
		found := false
		for _, k := range jwks.Keys {
			found = found || k.Kid == next
		}
		if found {
			break
		}
		// The key cache lives 5 s; the margin absorbs a loaded machine,
		// not a slower mechanism.
		if time.Since(start) > 7*time.Second {
			t.Fatalf("the rotated key set did not reach the running server within 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
