package server_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"idp/server"
	"idp/server/servertest"
)

func openSignup(c *server.Config) { c.Signup = "open" }

func signUp(t *testing.T, env *servertest.Env, b *http.Client, form url.Values) (*http.Response, *servertest.Page) {
	t.Helper()
	_, p := env.Get(t, b, "/signup")
	if p.Status != http.StatusOK {
		t.Fatalf("/signup: %d", p.Status)
	}
	form.Set("csrf_token", p.CSRF())
	return env.PostForm(t, b, "/signup", form)
}

// TestSignup: with --signup open the sign-in page links the form; a new
// address gets an account (not signed in, not verified) and the
// confirmation mail; the link verifies it; the form refuses what it must,
// without CSRF too.
func TestSignup(t *testing.T) {
	t.Parallel()
	env, srv := resetEnv(t, openSignup)
	b := env.Browser(t)
	if _, p := env.Get(t, b, "/login"); !strings.Contains(p.Body, `href="/signup"`) {
		t.Fatal("the sign-in page does not link the sign-up page")
	}
	const pw = "a long and unusual passphrase"
	resp, p := signUp(t, env, b, url.Values{"email": {"new@example.com"}, "name": {"New <b>Person</b>"}, "password": {pw}, "confirm": {pw}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(p.Body, `id="signup-sent"`) || strings.Contains(p.Body, "<b>Person") {
		t.Fatalf("sign-up: %d %.500s", resp.StatusCode, p.Body)
	}
	if hasSessionCookie(t, env, b) {
		t.Fatal("sign-up signed the person in")
	}
	if verified(t, env, "new@example.com") {
		t.Fatal("a signed-up address is verified before its link")
	}
	link := verifyLink(t, env, srv, "new@example.com")
	if done := confirm(t, env, env.Browser(t), link); done.Status != http.StatusOK || !verified(t, env, "new@example.com") {
		t.Fatalf("confirming: %d", done.Status)
	}
	if signInStatus(t, env, "new@example.com", pw) != http.StatusSeeOther {
		t.Fatal("the new account does not sign in")
	}
	for name, tc := range map[string]struct {
		form url.Values
		says string
	}{
		"bad address":        {url.Values{"email": {"nope"}, "password": {pw}, "confirm": {pw}}, "not an email address"},
		"passwords differ":   {url.Values{"email": {"x@example.com"}, "password": {pw}, "confirm": {pw + "!"}}, "differ"},
		"common password":    {url.Values{"email": {"x@example.com"}, "password": {"password1"}, "confirm": {"password1"}}, "commonly used"},
		"email in password":  {url.Values{"email": {"xavier@example.com"}, "password": {"xavier-1234"}, "confirm": {"xavier-1234"}}, "email address"},
		"header in the name": {url.Values{"email": {"y@example.com"}, "name": {"Y\r\nBcc: z@example.com"}, "password": {pw}, "confirm": {pw}}, "without line breaks"},
	} {
		resp, p := signUp(t, env, env.Browser(t), tc.form)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, tc.says) {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if resp, _ := env.PostForm(t, env.Browser(t), "/signup", url.Values{"email": {"z@example.com"}, "password": {pw}, "confirm": {pw}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("without CSRF: %d", resp.StatusCode)
	}
	for _, e := range []string{"x@example.com", "xavier@example.com", "y@example.com", "z@example.com"} {
		if _, err := env.Users.Store().ByEmail(t.Context(), e); err == nil {
			t.Errorf("a refused sign-up created %s", e)
		}
	}
}

// TestSignupRevealsNoAccount: an address with an account gets the same
// page, status and (median) time as a new one; nothing is created and the
// owner is mailed instead.
func TestSignupRevealsNoAccount(t *testing.T) {
	t.Parallel()
	// Each request from its own address (through a trusted proxy), so the
	// per-IP limit stays out of the measurement.
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	env, srv := resetEnv(t, openSignup, func(c *server.Config) { c.TrustedProxies = []*net.IPNet{loopback} })
	const pw = "a long and unusual passphrase"
	var known []string
	for i := range 6 {
		e := "known" + string(rune('a'+i)) + "@example.com"
		env.CreateUser(t, e, testPassword)
		known = append(known, e)
	}
	var tKnown, tNew []time.Duration
	var pages = map[string]int{}
	for i, e := range known {
		for _, addr := range []string{e, "fresh" + string(rune('a'+i)) + "@example.com"} {
			b := env.Browser(t)
			_, p := env.Get(t, b, "/signup")
			form := url.Values{"csrf_token": {p.CSRF()}, "email": {addr}, "password": {pw}, "confirm": {pw}}
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/signup", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", len(tKnown)+len(tNew)+1))
			start := time.Now()
			resp, err := b.Do(req)
			d := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			done := &servertest.Page{Body: readBody(t, resp)}
			if strings.HasPrefix(addr, "known") {
				tKnown = append(tKnown, d)
			} else {
				tNew = append(tNew, d)
			}
			body := strings.ReplaceAll(done.Body, addr, "ADDR")
			body = csrfValue.ReplaceAllString(body, "")
			pages[body]++
			if resp.StatusCode != http.StatusOK || !strings.Contains(done.Body, `id="signup-sent"`) {
				t.Fatalf("%s: %d", addr, resp.StatusCode)
			}
		}
	}
	if len(pages) != 1 {
		t.Fatalf("known and new addresses got %d different pages", len(pages))
	}
	// The fastest of each: this test runs beside others (t.Parallel), and
	// their load only ever adds time, so the minimum is what each path
	// costs; a path that skipped the password hash would be tens of
	// milliseconds faster at its fastest too.
	fk, fn := slices.Min(tKnown), slices.Min(tNew)
	if diff := (fk - fn).Abs(); diff > 25*time.Millisecond && float64(diff) > 0.3*float64(max(fk, fn)) {
		t.Errorf("fastest sign-up %s for known addresses, %s for new ones", fk, fn)
	}
	t.Logf("sign-up: fastest known %s, new %s; median known %s, new %s", fk, fn, median(tKnown), median(tNew))
	env.SendMail(t)
	for _, e := range known {
		msgs := srv.To(e)
		if len(msgs) != 1 || msgs[0].Subject != "Someone tried to sign up with your address" {
			t.Fatalf("mail to %s: %+v", e, msgs)
		}
		if _, err := env.Users.Authenticate(t.Context(), e, testPassword); err != nil {
			t.Fatalf("the sign-up touched %s's account: %v", e, err)
		}
	}
}

// TestSignupLimits: the domain allow-list, the per-address throttle, and
// closed or invite-only sign-up.
func TestSignupLimits(t *testing.T) {
	t.Parallel()
	env, _ := resetEnv(t, func(c *server.Config) { c.Signup = "open"; c.SignupDomains = []string{"example.com"} })
	const pw = "a long and unusual passphrase"
	if resp, p := signUp(t, env, env.Browser(t), url.Values{"email": {"a@elsewhere.org"}, "password": {pw}, "confirm": {pw}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "example.com only") {
		t.Fatalf("another domain: %d", resp.StatusCode)
	}
	if resp, _ := signUp(t, env, env.Browser(t), url.Values{"email": {"a@EXAMPLE.com"}, "password": {pw}, "confirm": {pw}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("the allowed domain in capitals: %d", resp.StatusCode)
	}
	throttled := false
	for range 6 {
		resp, _ := signUp(t, env, env.Browser(t), url.Values{"email": {"again@example.com"}, "password": {pw}, "confirm": {pw}})
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("six sign-ups for one address and no throttle")
	}
	for _, mode := range []string{"closed", "invite-only", ""} {
		off, _ := resetEnv(t, func(c *server.Config) { c.Signup = mode })
		b := off.Browser(t)
		if _, p := off.Get(t, b, "/signup"); p.Status != http.StatusNotFound {
			t.Errorf("%q: /signup is %d", mode, p.Status)
		}
		_, p := off.Get(t, b, "/login")
		if strings.Contains(p.Body, `href="/signup"`) || (mode == "invite-only") != strings.Contains(p.Body, "Accounts are by invitation") {
			t.Errorf("%q: sign-in page %.300s", mode, p.Body)
		}
	}
}
