package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"idp/clients"
	"idp/mail/mailtest"
	"idp/selfservice"
	"idp/server"
	"idp/server/servertest"
)

// resetEnv is a provider mailing to a fresh test SMTP server.
func resetEnv(t *testing.T, opts ...servertest.Option) (*servertest.Env, *mailtest.Server) {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{})
	return servertest.NewWithMail(t, srv, opts...), srv
}

// requestReset asks for a reset link for email through the pages, as a
// person does, and returns the answer.
func requestReset(t *testing.T, env *servertest.Env, b *http.Client, email string) *servertest.Page {
	t.Helper()
	_, ask := env.Get(t, b, "/login/forgot")
	if ask.Status != http.StatusOK {
		t.Fatalf("/login/forgot: %d", ask.Status)
	}
	_, page := env.PostForm(t, b, "/login/forgot", url.Values{"csrf_token": {ask.CSRF()}, "email": {email}})
	return page
}

// mailedLink sends the outbox and returns the reset link of the newest
// message to email, read from the SMTP server.
func mailedLink(t *testing.T, env *servertest.Env, srv *mailtest.Server, email string) string {
	t.Helper()
	env.SendMail(t)
	msgs := srv.To(email)
	if len(msgs) == 0 {
		t.Fatalf("no mail to %s", email)
	}
	link, err := msgs[len(msgs)-1].Link("/login/reset?token=")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, env.URL+"/login/reset?token=") {
		t.Fatalf("link %s is not under the issuer", link)
	}
	return link
}

// choosePassword opens link and posts password (twice) on its form.
func choosePassword(t *testing.T, env *servertest.Env, b *http.Client, link, password string) *servertest.Page {
	t.Helper()
	_, page := env.Get(t, b, link)
	if page.Status != http.StatusOK {
		return page
	}
	u, _ := url.Parse(link)
	_, done := env.PostForm(t, b, "/login/reset", url.Values{"csrf_token": {page.CSRF()},
		"token": {u.Query().Get("token")}, "password": {password}, "confirm": {password}})
	return done
}

// signInStatus posts the sign-in form and returns the status.
func signInStatus(t *testing.T, env *servertest.Env, email, password string) int {
	t.Helper()
	b := env.Browser(t)
	_, page := env.Get(t, b, "/login")
	resp, _ := env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "email": {email}, "password": {password}})
	return resp.StatusCode
}

const newPassword = "a brand new passphrase"

func TestPasswordResetThroughRealMail(t *testing.T) {
	env, srv := resetEnv(t)
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	user, err := env.Users.Store().ByEmail(context.Background(), testEmail)
	if err != nil {
		t.Fatal(err)
	}
	signedIn := env.Browser(t)
	signIn(t, env, signedIn, testEmail, testPassword)
	if liveSessions(t, env, user.ID) == 0 {
		t.Fatal("no session before the reset")
	}

	b := env.Browser(t)
	_, login := env.Get(t, b, "/login")
	if !strings.Contains(login.Body, `href="/login/forgot"`) {
		t.Fatal("the sign-in page does not offer a reset with mail on")
	}
	sent := requestReset(t, env, b, testEmail)
	if sent.Status != http.StatusOK || !strings.Contains(sent.Body, `id="reset-sent"`) {
		t.Fatalf("reset request: %d %.300s", sent.Status, sent.Body)
	}
	if n := env.SendMail(t); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
	msgs := srv.To(testEmail)
	if len(msgs) != 1 {
		t.Fatalf("%d messages to %s", len(msgs), testEmail)
	}
	m := msgs[0]
	if m.Subject != "Reset your password" || m.Header.Get("From") != `"idp" <idp@example.test>` || m.From != "idp@example.test" {
		t.Fatalf("message headers: subject %q from %q envelope %q", m.Subject, m.Header.Get("From"), m.From)
	}
	link, err := m.Link("/login/reset?token=")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimPrefix(link, env.URL+"/login/reset?token=")
	if !strings.Contains(m.HTML, link) || len(token) != 43 {
		t.Fatalf("the HTML part lacks the link, or the token is not 256 bits: %q", token)
	}
	// The token is stored hashed, and never in the outbox.
	sum := sha256.Sum256([]byte(token))
	if rowCount(t, env, "mail_links", "token_hash = ?", hex.EncodeToString(sum[:])) != 1 ||
		rowCount(t, env, "mail_links", "token_hash = ?", token) != 0 {
		t.Fatal("the link is not stored by the SHA-256 of its token")
	}
	if rowCount(t, env, "mail_outbox", "data LIKE ? OR recipient LIKE ? OR last_error LIKE ?", "%"+token+"%", "%"+token+"%", "%"+token+"%") != 0 {
		t.Fatal("the link token is in the outbox")
	}

	// The link opens the new-password form; a mismatch and a weak
	// password are refused and change nothing.
	before, _ := env.Users.Store().ByID(context.Background(), user.ID)
	_, choose := env.Get(t, b, link)
	if choose.Status != http.StatusOK || !strings.Contains(choose.Body, `action="/login/reset"`) {
		t.Fatalf("link page: %d %.300s", choose.Status, choose.Body)
	}
	for _, bad := range []struct{ pw, confirm, alert string }{
		{newPassword, newPassword + "x", "The two passwords differ"},
		{"short", "short", "shorter than 8"},
		{strings.Repeat("x", 1025), strings.Repeat("x", 1025), "longer than 1024"},
		{"12345678", "12345678", "most commonly used"},
		{"Ada's new passphrase", "Ada's new passphrase", "first part of the email"},
	} {
		_, page := env.PostForm(t, b, "/login/reset", url.Values{"csrf_token": {choose.CSRF()}, "token": {token},
			"password": {bad.pw}, "confirm": {bad.confirm}})
		if page.Status != http.StatusBadRequest || !strings.Contains(page.Alert(), bad.alert) {
			t.Errorf("password %.12q: %d %q, want 400 with %q", bad.pw, page.Status, page.Alert(), bad.alert)
		}
	}
	// Without the CSRF token nothing happens either.
	if _, page := env.PostForm(t, b, "/login/reset", url.Values{"token": {token}, "password": {newPassword}, "confirm": {newPassword}}); page.Status != http.StatusForbidden {
		t.Errorf("reset without CSRF: %d", page.Status)
	}
	if after, _ := env.Users.Store().ByID(context.Background(), user.ID); after.PasswordHash != before.PasswordHash {
		t.Fatal("a refused reset changed the password")
	}

	done := choosePassword(t, env, b, link, newPassword)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="reset-done"`) || !strings.Contains(done.Body, "signed out everywhere") {
		t.Fatalf("reset: %d %.400s", done.Status, done.Body)
	}
	if hasSessionCookie(t, env, b) {
		t.Fatal("the reset signed the browser in")
	}
	if n := liveSessions(t, env, user.ID); n != 0 {
		t.Fatalf("%d sessions survived the reset", n)
	}
	if status, body := refresh(t, app, tok.RefreshToken); status != http.StatusBadRequest || !strings.Contains(string(body), "invalid_grant") {
		t.Fatalf("a refresh token from before the reset: %d %s", status, body)
	}
	if s := signInStatus(t, env, testEmail, testPassword); s != http.StatusUnauthorized {
		t.Fatalf("the old password: %d", s)
	}
	if s := signInStatus(t, env, testEmail, newPassword); s != http.StatusSeeOther {
		t.Fatalf("the new password: %d", s)
	}
	if n := rowCount(t, env, "audit_events", "action = ? AND target = ?", "password.reset", user.ID); n != 1 {
		t.Fatalf("%d password.reset audit events", n)
	}
	// The link is spent.
	if again := choosePassword(t, env, b, link, "yet another passphrase"); again.Status != http.StatusBadRequest ||
		!strings.Contains(again.Body, `id="reset-invalid"`) {
		t.Fatalf("a used link: %d", again.Status)
	}
	// /metrics counts the message.
	_, metrics := env.Get(t, env.Browser(t), "/metrics")
	if !strings.Contains(metrics.Body, `idp_mail_messages{state="sent"} 1`) || !strings.Contains(metrics.Body, `idp_mail_messages{state="queued"} 0`) {
		t.Errorf("metrics lack the mail counts:\n%s", grepLines(metrics.Body, "idp_mail"))
	}
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestResetOffWithoutMail(t *testing.T) {
	env := servertest.New(t)
	b := env.Browser(t)
	_, login := env.Get(t, b, "/login")
	if strings.Contains(login.Body, "/login/forgot") {
		t.Fatal("the sign-in page offers a reset without mail")
	}
	for _, p := range []string{"/login/forgot", "/login/reset?token=x"} {
		if _, page := env.Get(t, b, p); page.Status != http.StatusNotFound {
			t.Errorf("GET %s without mail: %d", p, page.Status)
		}
	}
	if _, page := env.PostForm(t, b, "/login/forgot", url.Values{"csrf_token": {login.CSRF()}, "email": {testEmail}}); page.Status != http.StatusNotFound {
		t.Errorf("POST /login/forgot without mail: %d", page.Status)
	}
}

func TestResetLinksThatDoNotWork(t *testing.T) {
	env, srv := resetEnv(t)
	ada := env.CreateUser(t, testEmail, testPassword)
	bob := env.CreateUser(t, "bob@example.com", "robert's own secret")
	b := env.Browser(t)
	hashes := func() (string, string) {
		a, _ := env.Users.Store().ByID(context.Background(), ada.ID)
		o, _ := env.Users.Store().ByID(context.Background(), bob.ID)
		return a.PasswordHash, o.PasswordHash
	}
	invalid := func(name string, page *servertest.Page) {
		t.Helper()
		if page.Status != http.StatusBadRequest || !strings.Contains(page.Body, `id="reset-invalid"`) ||
			!strings.Contains(page.Body, "Nothing was changed") {
			t.Errorf("%s: %d, want the invalid-link page", name, page.Status)
		}
	}
	post := func(token string) *servertest.Page {
		_, ask := env.Get(t, b, "/login/forgot")
		_, page := env.PostForm(t, b, "/login/reset", url.Values{"csrf_token": {ask.CSRF()}, "token": {token},
			"password": {newPassword}, "confirm": {newPassword}})
		return page
	}
	tokenOf := func(link string) string { u, _ := url.Parse(link); return u.Query().Get("token") }

	// Superseded: a newer link kills the older one.
	requestReset(t, env, b, testEmail)
	first := mailedLink(t, env, srv, testEmail)
	requestReset(t, env, b, testEmail)
	second := mailedLink(t, env, srv, testEmail)
	a0, b0 := hashes()
	_, page := env.Get(t, b, first)
	invalid("superseded link (GET)", page)
	invalid("superseded link (POST)", post(tokenOf(first)))

	// Tampered, truncated, empty, someone else's shape.
	tok := tokenOf(second)
	flipped := []byte(tok)
	flipped[10] ^= 1
	for name, bad := range map[string]string{
		"tampered": string(flipped), "truncated": tok[:40], "extended": tok + "A", "empty": "",
		"garbage": "<script>", "hash instead of token": strings.Repeat("ab", 32),
	} {
		_, page := env.Get(t, b, "/login/reset?token="+url.QueryEscape(bad))
		invalid(name+" (GET)", page)
		invalid(name+" (POST)", post(bad))
	}
	// Another user's name in the form changes nothing: the link is bound
	// to its own user, and the form has no user field to bend.
	_, ask := env.Get(t, b, "/login/forgot")
	_, page = env.PostForm(t, b, "/login/reset", url.Values{"csrf_token": {ask.CSRF()}, "token": {string(flipped)},
		"email": {"bob@example.com"}, "user": {bob.ID}, "password": {newPassword}, "confirm": {newPassword}})
	invalid("tampered link naming another user", page)
	if a, o := hashes(); a != a0 || o != b0 {
		t.Fatal("a refused link changed a password")
	}
	// Bob's own link cannot be spent by Ada's request and vice versa: each
	// mail carries its own user's token.
	requestReset(t, env, b, "bob@example.com")
	bobLink := mailedLink(t, env, srv, "bob@example.com")
	if tokenOf(bobLink) == tok {
		t.Fatal("two users got the same token")
	}

	// Expired: 30 minutes.
	env.Clock.Advance(31 * time.Minute)
	_, page = env.Get(t, b, second)
	invalid("expired link", page)
	invalid("expired link (POST)", post(tok))
	if a, o := hashes(); a != a0 || o != b0 {
		t.Fatal("an expired link changed a password")
	}
	// The purge loop sweeps the expired links.
	if n := rowCount(t, env, "mail_links", ""); n == 0 {
		t.Fatal("no links left to purge")
	}
	if _, err := env.App.Purge(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, env, "mail_links", ""); n != 0 {
		t.Fatalf("%d expired links left after the purge", n)
	}

	// Any password change kills a live link: an administrator's here.
	requestReset(t, env, b, testEmail)
	live := mailedLink(t, env, srv, testEmail)
	if err := env.Users.SetPassword(context.Background(), testEmail, "set by an administrator"); err != nil {
		t.Fatal(err)
	}
	_, page = env.Get(t, b, live)
	invalid("link older than a password change", page)

	// A disabled account's link does not work.
	requestReset(t, env, b, "bob@example.com")
	bobLive := mailedLink(t, env, srv, "bob@example.com")
	if err := env.Users.Disable(context.Background(), "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	_, page = env.Get(t, b, bobLive)
	invalid("disabled account's link", page)
	// And a disabled account gets no mail at all.
	before := len(srv.To("bob@example.com"))
	requestReset(t, env, b, "bob@example.com")
	env.SendMail(t)
	if len(srv.To("bob@example.com")) != before {
		t.Fatal("a disabled account was mailed a reset link")
	}
}

func TestResetKeepsTheSecondFactor(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	env := servertest.NewWithMail(t, srv)
	env.CreateUser(t, testEmail, testPassword)
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	enrollTOTPFromAccount(t, env, b)

	other := env.Browser(t)
	requestReset(t, env, other, testEmail)
	if done := choosePassword(t, env, other, mailedLink(t, env, srv, testEmail), newPassword); done.Status != http.StatusOK {
		t.Fatalf("reset: %d", done.Status)
	}
	if hasSessionCookie(t, env, other) {
		t.Fatal("the reset started a session")
	}
	// The new password leads to the second-factor step, not a session.
	_, login := env.Get(t, other, "/login")
	resp, _ := env.PostForm(t, other, "/login", url.Values{"csrf_token": {login.CSRF()}, "email": {testEmail}, "password": {newPassword}})
	if loc := servertest.Location(t, resp); loc.Path != "/login/mfa" {
		t.Fatalf("the new password went to %s, want the second factor", loc)
	}
	if hasSessionCookie(t, env, other) {
		t.Fatal("a reset password alone gave a session to a user with a second factor")
	}
}

func TestResetRequestsAreThrottled(t *testing.T) {
	env, srv := resetEnv(t)
	env.CreateUser(t, testEmail, testPassword)
	b := env.Browser(t)
	for i := range 3 {
		if p := requestReset(t, env, b, testEmail); p.Status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, p.Status)
		}
	}
	_, ask := env.Get(t, b, "/login/forgot")
	resp, page := env.PostForm(t, b, "/login/forgot", url.Values{"csrf_token": {ask.CSRF()}, "email": {strings.ToUpper(testEmail)}})
	if page.Status != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(page.Alert(), "Too many reset requests") {
		t.Fatalf("fourth request: %d %q", page.Status, page.Alert())
	}
	env.SendMail(t)
	if n := len(srv.To(testEmail)); n != 3 {
		t.Fatalf("%d messages, want 3 (the throttled request sends none)", n)
	}
	// An unknown address is throttled the same way: the limit reveals
	// nothing either.
	for range 3 {
		requestReset(t, env, b, "nobody@example.com")
	}
	if p := requestReset(t, env, b, "nobody@example.com"); p.Status != http.StatusTooManyRequests {
		t.Fatalf("unknown address, fourth request: %d", p.Status)
	}
	// Malformed input is a plain 400, and CSRF is checked.
	if p := requestReset(t, env, b, "not an address"); p.Status != http.StatusBadRequest {
		t.Fatalf("malformed address: %d", p.Status)
	}
	if _, p := env.PostForm(t, b, "/login/forgot", url.Values{"email": {testEmail}}); p.Status != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", p.Status)
	}
}

func TestResetHeaderInjectionAndEscaping(t *testing.T) {
	env, srv := resetEnv(t)
	ctx := context.Background()
	if _, err := env.Users.Create(ctx, "eve@example.com", testPassword, "Eve\r\nBcc: victim@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Users.Create(ctx, "mal@example.com", testPassword, `<img src=x onerror=alert(1)> "Mal"`, nil); err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	requestReset(t, env, b, "eve@example.com")
	requestReset(t, env, b, "mal@example.com")
	// An address with CR LF never reaches the outbox.
	requestReset(t, env, b, "x@example.com\r\nBcc: victim@example.com")
	env.SendMail(t)
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if len(m.To) != 1 || strings.Contains(strings.ToLower(string(m.Raw)), "bcc:") || m.Header.Get("Bcc") != "" {
			t.Fatalf("injected recipient or header: rcpt %v\n%s", m.To, m.Raw)
		}
	}
	mal := srv.To("mal@example.com")[0]
	if strings.Contains(mal.HTML, "<img") || !strings.Contains(mal.HTML, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Fatalf("the HTML mail does not escape the name:\n%s", mal.HTML)
	}
	for _, r := range srv.To("victim@example.com") {
		t.Fatalf("mail reached an injected recipient: %v", r.To)
	}
}

func TestMailServerDownDuringReset(t *testing.T) {
	env, srv := resetEnv(t)
	env.CreateUser(t, testEmail, testPassword)
	srv.Stop()
	b := env.Browser(t)
	start := time.Now()
	page := requestReset(t, env, b, testEmail)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `id="reset-sent"`) || time.Since(start) > 5*time.Second {
		t.Fatalf("with the mail server down the page answered %d after %s", page.Status, time.Since(start))
	}
	if n := env.SendMail(t); n != 0 {
		t.Fatalf("%d sent with the server down", n)
	}
	srv.Restart()
	if n := env.SendMail(t); n != 0 {
		t.Fatal("retried before the backoff")
	}
	env.Clock.Advance(31 * time.Second)
	if n := env.SendMail(t); n != 1 {
		t.Fatalf("%d sent after the server came back, want 1", n)
	}
	if done := choosePassword(t, env, b, mailedLink(t, env, srv, testEmail), newPassword); done.Status != http.StatusOK {
		t.Fatalf("the delayed link: %d", done.Status)
	}
	env.Clock.Advance(time.Hour)
	env.SendMail(t)
	if n := len(srv.To(testEmail)); n != 1 {
		t.Fatalf("%d messages delivered, want exactly 1", n)
	}
}

func TestMailServerDownThroughTwoReplicas(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	c := servertest.NewClusterWithMail(t, 2, srv)
	c.Instances[0].CreateUser(t, testEmail, testPassword)
	srv.Stop()
	b := c.Instances[0].Browser(t)
	page := requestReset(t, c.Instances[0], b, testEmail)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `id="reset-sent"`) {
		t.Fatalf("reset request through the cluster: %d", page.Status)
	}
	send := func() int {
		done := make(chan int, 2)
		for _, e := range c.Instances {
			go func() {
				n, err := e.App.Mail.SendBatch(context.Background(), 100)
				if err != nil {
					t.Error(err)
				}
				done <- n
			}()
		}
		return <-done + <-done
	}
	if n := send(); n != 0 {
		t.Fatalf("%d sent with the server down", n)
	}
	srv.Restart()
	c.Clock.Advance(31 * time.Second)
	if n := send(); n != 1 {
		t.Fatalf("the two replicas sent %d, want 1", n)
	}
	link := mailedLink(t, c.Instances[1], srv, testEmail)
	if done := choosePassword(t, c.Instances[1], b, link, newPassword); done.Status != http.StatusOK {
		t.Fatalf("the link through the other replica: %d", done.Status)
	}
	c.Clock.Advance(time.Hour)
	send()
	if n := len(srv.To(testEmail)); n != 1 {
		t.Fatalf("%d messages delivered, want exactly 1", n)
	}
}

// csrfValue hides the page's CSRF token, the one part of two answers to
// one browser that may differ.
var csrfValue = regexp.MustCompile(`name="csrf_token" value="[^"]*"`)

func TestResetRequestsRevealNoAccount(t *testing.T) {
	// Each request comes from its own address (through a trusted proxy),
	// so the per-IP limit stays out of the measurement.
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	env, srv := resetEnv(t, func(c *server.Config) { c.TrustedProxies = []*net.IPNet{loopback} })
	const n = 10
	known, unknown := make([]string, n), make([]string, n)
	for i := range n {
		known[i], unknown[i] = fmt.Sprintf("known%d@example.com", i), fmt.Sprintf("unknown%d@example.com", i)
		env.CreateUser(t, known[i], testPassword)
	}
	b := env.Browser(t)
	_, ask := env.Get(t, b, "/login/forgot")
	ip := 0
	post := func(email string) (int, string, time.Duration) {
		ip++
		form := url.Values{"csrf_token": {ask.CSRF()}, "email": {email}}
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/login/forgot", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.%d.%d", ip/250, ip%250+1))
		start := time.Now()
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		return resp.StatusCode, csrfValue.ReplaceAllString(body, ""), time.Since(start)
	}
	post("warm-up@example.com")
	// Three rounds (each address's per-address budget), known and
	// unknown interleaved so that any drift hits both alike.
	var tk, tu []time.Duration
	for round := range 3 {
		for i := range n {
			sk, bk, dk := post(known[i])
			su, bu, du := post(unknown[i])
			if sk != http.StatusOK || su != http.StatusOK {
				t.Fatalf("round %d: statuses %d (known) and %d (unknown), want 200 both", round, sk, su)
			}
			if bk != bu {
				t.Fatalf("the pages differ:\nknown: %s\nunknown: %s", bk, bu)
			}
			tk, tu = append(tk, dk), append(tu, du)
		}
	}
	// The fastest of each, as in TestSignupRevealsNoAccount: other tests'
	// load only ever adds time, so the minimum is what each path costs.
	fk, fu := slices.Min(tk), slices.Min(tu)
	t.Logf("reset requests, %d each: fastest known %s, unknown %s; median known %s, unknown %s",
		len(tk), fk, fu, median(tk), median(tu))
	diff := max(fk, fu) - min(fk, fu)
	if diff > 25*time.Millisecond && float64(diff) > 0.3*float64(max(fk, fu)) {
		t.Fatalf("fastest %s (known) and %s (unknown) differ by more than 25 ms and 30%%", fk, fu)
	}
	// Only the known addresses got mail: three links each.
	env.SendMail(t)
	if len(srv.Messages()) != 3*n {
		t.Fatalf("%d messages, want %d", len(srv.Messages()), 3*n)
	}
}

// median returns the middle of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func TestResetLinkRaceHasOneWinner(t *testing.T) {
	env, srv := resetEnv(t)
	env.CreateUser(t, testEmail, testPassword)
	requestReset(t, env, env.Browser(t), testEmail)
	u, _ := url.Parse(mailedLink(t, env, srv, testEmail))
	token := u.Query().Get("token")
	const racers = 4
	errs := make(chan error, racers)
	start := make(chan struct{})
	for i := range racers {
		go func() {
			<-start
			_, err := env.App.SelfService.CompleteReset(context.Background(), token, fmt.Sprintf("racer number %d password", i))
			errs <- err
		}()
	}
	close(start)
	won := 0
	for range racers {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, selfservice.ErrInvalidLink):
			t.Errorf("a losing racer: %v, want ErrInvalidLink", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racers set a password with one link, want 1", won)
	}
	if rowCount(t, env, "mail_links", "") != 0 {
		t.Fatal("the used link is still stored")
	}
}
