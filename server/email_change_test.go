package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/mail/mailtest"
	"idp/server/servertest"
)

// changeLink sends the outbox and returns the newest email change link
// mailed to email.
func changeLink(t *testing.T, env *servertest.Env, srv *mailtest.Server, email string) string {
	t.Helper()
	env.SendMail(t)
	msgs := srv.To(email)
	if len(msgs) == 0 {
		t.Fatalf("no mail to %s", email)
	}
	link, err := msgs[len(msgs)-1].Link("/account/email/confirm?token=")
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func askEmailChange(t *testing.T, env *servertest.Env, b *http.Client, form url.Values) (*http.Response, *servertest.Page) {
	t.Helper()
	_, p := env.Get(t, b, "/account")
	form.Set("csrf_token", p.CSRF())
	return env.PostForm(t, b, "/account/email", form)
}

func confirmChange(t *testing.T, env *servertest.Env, b *http.Client, link string) *servertest.Page {
	t.Helper()
	_, page := env.Get(t, b, link)
	if page.Status != http.StatusOK {
		return page
	}
	u, _ := url.Parse(link)
	_, done := env.PostForm(t, b, "/account/email/confirm", url.Values{"csrf_token": {page.CSRF()}, "token": {u.Query().Get("token")}})
	return done
}

// TestEmailChange: the new address gets a link and the account moves
// only when it is used (verified, the old address told); the link works
// once; a taken address, a superseded link and a password change leave
// everything as it was; the form checks what it is given.
func TestEmailChange(t *testing.T) {
	t.Parallel()
	env, srv := resetEnv(t)
	env.CreateUser(t, testEmail, testPassword)
	env.CreateUser(t, "bob@example.com", testPassword)
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	if _, p := env.Get(t, b, "/account"); !strings.Contains(p.Body, `action="/account/email"`) {
		t.Fatal("no email form with mail on")
	}
	const fresh = "ada.lovelace@example.org"
	resp, _ := askEmailChange(t, env, b, url.Values{"email": {fresh}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "notice=email-link-sent") {
		t.Fatalf("ask: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	link := changeLink(t, env, srv, fresh)
	if verified(t, env, testEmail); len(srv.To(testEmail)) != 0 {
		t.Fatal("the old address was mailed before the change")
	}
	// Opening the link changes nothing; the button without CSRF neither.
	if _, p := env.Get(t, b, link); p.Status != http.StatusOK || !strings.Contains(p.Body, fresh) {
		t.Fatalf("link page: %d", p.Status)
	}
	u, _ := url.Parse(link)
	if _, p := env.PostForm(t, b, "/account/email/confirm", url.Values{"token": {u.Query().Get("token")}}); p.Status != http.StatusForbidden {
		t.Fatalf("confirm without CSRF: %d", p.Status)
	}
	if _, err := env.Users.Store().ByEmail(context.Background(), testEmail); err != nil {
		t.Fatalf("the address changed before the confirmation: %v", err)
	}
	done := confirmChange(t, env, env.Browser(t), link)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="email-changed"`) {
		t.Fatalf("confirm: %d %.400s", done.Status, done.Body)
	}
	if !verified(t, env, fresh) {
		t.Fatal("the new address is not verified")
	}
	env.SendMail(t)
	notice := srv.To(testEmail)
	if len(notice) != 1 || notice[0].Subject != "Your account's email address was changed" || !strings.Contains(notice[0].Text, fresh) {
		t.Fatalf("notice to the old address: %+v", notice)
	}
	if again := confirmChange(t, env, env.Browser(t), link); again.Status != http.StatusBadRequest {
		t.Fatalf("a used link: %d", again.Status)
	}
	if signInStatus(t, env, fresh, testPassword) != http.StatusSeeOther || signInStatus(t, env, testEmail, testPassword) == http.StatusSeeOther {
		t.Fatal("sign-in does not follow the new address")
	}

	// Refusals on the form.
	for name, tc := range map[string]struct {
		email string
		says  string
	}{"not an address": {"not-an-address", "not an email address"}, "the same address": {strings.ToUpper(fresh), "already your address"}} {
		resp, p := askEmailChange(t, env, b, url.Values{"email": {tc.email}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, tc.says) {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	// Another account's address: the same answer, and no mail to anyone.
	sent := len(srv.Messages())
	if resp, _ := askEmailChange(t, env, b, url.Values{"email": {"BOB@example.com"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("asking for a taken address: %d", resp.StatusCode)
	}
	env.SendMail(t)
	if len(srv.Messages()) != sent {
		t.Fatalf("a taken address was mailed: %+v", srv.Messages()[sent:])
	}
	// A newer link supersedes the older; a password change kills both.
	env.Clock.Advance(2 * time.Hour) // past the per-user burst
	if resp, p := askEmailChange(t, env, b, url.Values{"email": {"first@example.org"}, "current_password": {testPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first: %d %s", resp.StatusCode, p.Body[:min(len(p.Body), 300)])
	}
	older := changeLink(t, env, srv, "first@example.org")
	askEmailChange(t, env, b, url.Values{"email": {"second@example.org"}, "current_password": {testPassword}})
	newer := changeLink(t, env, srv, "second@example.org")
	if p := confirmChange(t, env, env.Browser(t), older); p.Status != http.StatusBadRequest {
		t.Fatalf("a superseded link: %d", p.Status)
	}
	if err := env.Users.SetPassword(context.Background(), fresh, "another passphrase 2026"); err != nil {
		t.Fatal(err)
	}
	if p := confirmChange(t, env, env.Browser(t), newer); p.Status != http.StatusBadRequest {
		t.Fatalf("a link from before a password change: %d", p.Status)
	}
	if _, err := env.Users.Store().ByEmail(context.Background(), fresh); err != nil {
		t.Fatalf("a refused link moved the account: %v", err)
	}
}

// TestEmailChangeNeedsCurrentPasswordLater: minutes after signing in the
// form wants the current password; a wrong one is refused and sends
// nothing. Without mail there is no form.
func TestEmailChangeNeedsCurrentPasswordLater(t *testing.T) {
	t.Parallel()
	env, srv := resetEnv(t)
	env.CreateUser(t, testEmail, testPassword)
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	env.Clock.Advance(6 * time.Minute)
	resp, p := askEmailChange(t, env, b, url.Values{"email": {"x@example.org"}, "current_password": {"wrong"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "current password is not right") {
		t.Fatalf("wrong current password: %d", resp.StatusCode)
	}
	env.SendMail(t)
	if len(srv.Messages()) != 0 {
		t.Fatal("a refused request sent mail")
	}
	if resp, _ := askEmailChange(t, env, b, url.Values{"email": {"x@example.org"}, "current_password": {testPassword}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right current password: %d", resp.StatusCode)
	}
	plain := servertest.New(t)
	plain.CreateUser(t, testEmail, testPassword)
	pb := plain.Browser(t)
	signIn(t, plain, pb, testEmail, testPassword)
	if _, p := plain.Get(t, pb, "/account"); strings.Contains(p.Body, `action="/account/email"`) {
		t.Error("an email form without mail")
	}
	if resp, _ := askEmailChange(t, plain, pb, url.Values{"email": {"x@example.org"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("email change without mail: %d", resp.StatusCode)
	}
}
