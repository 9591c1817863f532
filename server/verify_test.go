package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/admin"
	"idp/clients"
	"idp/mail/mailtest"
	"idp/server/servertest"
)

var tester = admin.Actor{Name: "tester", Via: "test"}

// verifyLink sends the outbox and returns the verification link of the
// newest message to email.
func verifyLink(t *testing.T, env *servertest.Env, srv *mailtest.Server, email string) string {
	t.Helper()
	env.SendMail(t)
	msgs := srv.To(email)
	if len(msgs) == 0 {
		t.Fatalf("no mail to %s", email)
	}
	m := msgs[len(msgs)-1]
	if m.Subject != "Confirm your email address" {
		t.Fatalf("subject %q", m.Subject)
	}
	link, err := m.Link("/login/verify?token=")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.HTML, link) {
		t.Fatal("the HTML part lacks the link")
	}
	return link
}

// confirm opens link and presses the button; it returns the answer.
func confirm(t *testing.T, env *servertest.Env, b *http.Client, link string) *servertest.Page {
	t.Helper()
	_, page := env.Get(t, b, link)
	if page.Status != http.StatusOK {
		return page
	}
	u, _ := url.Parse(link)
	_, done := env.PostForm(t, b, "/login/verify", url.Values{"csrf_token": {page.CSRF()}, "token": {u.Query().Get("token")}})
	return done
}

// verified reads the stored flag.
func verified(t *testing.T, env *servertest.Env, email string) bool {
	t.Helper()
	u, err := env.Users.Store().ByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.EmailVerified
}

// idTokenEmailVerified signs email in to a fresh client and returns the
// ID token's email_verified claim.
func idTokenEmailVerified(t *testing.T, env *servertest.Env, clientID, email, password string) any {
	t.Helper()
	app := newRP(t, env, clients.Spec{ID: clientID, Trusted: true})
	v := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), email, password)
	tok, err := app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	decodeJWT(t, tok.Extra("id_token").(string), &claims)
	return claims["email_verified"]
}

func TestEmailVerificationThroughRealMail(t *testing.T) {
	env, srv := resetEnv(t)
	ctx := context.Background()
	if _, err := env.App.Admin.CreateUser(ctx, tester, admin.NewUser{Email: testEmail, Password: testPassword, Name: "Ada <b>L</b>"}); err != nil {
		t.Fatal(err)
	}
	if verified(t, env, testEmail) {
		t.Fatal("a new address is verified before its link is used")
	}
	if got := idTokenEmailVerified(t, env, "before", testEmail, testPassword); got != false {
		t.Fatalf("email_verified before = %v", got)
	}
	link := verifyLink(t, env, srv, testEmail)
	m := srv.To(testEmail)[0]
	if strings.Contains(m.HTML, "<b>L</b>") || !strings.Contains(m.HTML, "&lt;b&gt;L&lt;/b&gt;") {
		t.Fatalf("the HTML mail does not escape the name:\n%s", m.HTML)
	}
	b := env.Browser(t)
	// Opening the link (a mail scanner does) verifies nothing.
	if _, page := env.Get(t, b, link); page.Status != http.StatusOK || !strings.Contains(page.Body, `action="/login/verify"`) {
		t.Fatalf("link page: %d", page.Status)
	}
	if verified(t, env, testEmail) {
		t.Fatal("a GET of the link verified the address")
	}
	// The button without CSRF does nothing.
	u, _ := url.Parse(link)
	if _, page := env.PostForm(t, b, "/login/verify", url.Values{"token": {u.Query().Get("token")}}); page.Status != http.StatusForbidden || verified(t, env, testEmail) {
		t.Fatalf("verification without CSRF: %d", page.Status)
	}
	done := confirm(t, env, b, link)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="verify-done"`) {
		t.Fatalf("verification: %d %.300s", done.Status, done.Body)
	}
	if !verified(t, env, testEmail) {
		t.Fatal("the address is not marked verified")
	}
	if got := idTokenEmailVerified(t, env, "after", testEmail, testPassword); got != true {
		t.Fatalf("email_verified after = %v", got)
	}
	if again := confirm(t, env, b, link); again.Status != http.StatusBadRequest || !strings.Contains(again.Body, `id="verify-invalid"`) {
		t.Fatalf("a used link: %d", again.Status)
	}
	if n := rowCount(t, env, "audit_events", "action = ?", "email.verified"); n != 1 {
		t.Fatalf("%d email.verified audit events", n)
	}
}

func TestEmailVerifiedByTheOperatorSendsNothing(t *testing.T) {
	env, srv := resetEnv(t)
	if _, err := env.App.Admin.CreateUser(context.Background(), tester,
		admin.NewUser{Email: testEmail, Password: testPassword, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if !verified(t, env, testEmail) {
		t.Fatal("EmailVerified was not stored")
	}
	env.SendMail(t)
	if n := len(srv.Messages()); n != 0 || rowCount(t, env, "mail_outbox", "") != 0 {
		t.Fatalf("%d messages for a vouched address", n)
	}
	// A refused creation queues nothing either: no half-written rows.
	if _, err := env.App.Admin.CreateUser(context.Background(), tester,
		admin.NewUser{Email: "short@example.com", Password: "short"}); err == nil {
		t.Fatal("a weak password was accepted")
	}
	if n := rowCount(t, env, "mail_outbox", ""); n != 0 {
		t.Fatalf("%d outbox rows after a refused creation", n)
	}
}

func TestVerificationLinksThatDoNotWork(t *testing.T) {
	env, srv := resetEnv(t)
	ctx := context.Background()
	u, err := env.App.Admin.CreateUser(ctx, tester, admin.NewUser{Email: testEmail, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	first := verifyLink(t, env, srv, testEmail)
	// A newer link supersedes it.
	if err := env.App.SelfService.RequestVerification(ctx, u.ID, testEmail); err != nil {
		t.Fatal(err)
	}
	second := verifyLink(t, env, srv, testEmail)
	b := env.Browser(t)
	invalid := func(name string, page *servertest.Page) {
		t.Helper()
		if page.Status != http.StatusBadRequest || !strings.Contains(page.Body, `id="verify-invalid"`) {
			t.Errorf("%s: %d, want the invalid-link page", name, page.Status)
		}
		if verified(t, env, testEmail) {
			t.Fatalf("%s verified the address", name)
		}
	}
	invalid("superseded link", confirm(t, env, b, first))
	tok := strings.TrimPrefix(second, env.URL+"/login/verify?token=")
	flipped := []byte(tok)
	flipped[5] ^= 2
	invalid("tampered link", confirm(t, env, b, env.URL+"/login/verify?token="+string(flipped)))
	invalid("empty link", confirm(t, env, b, env.URL+"/login/verify?token="))
	// A reset link is not a verification link, nor the other way round.
	requestReset(t, env, b, testEmail)
	reset := mailedLink(t, env, srv, testEmail)
	invalid("a reset token on the verification page", confirm(t, env, b,
		env.URL+"/login/verify?token="+strings.TrimPrefix(reset, env.URL+"/login/reset?token=")))
	if page := choosePassword(t, env, b, env.URL+"/login/reset?token="+tok, newPassword); page.Status != http.StatusBadRequest {
		t.Errorf("a verification token on the reset page: %d", page.Status)
	}
	// An address changed since: the link verifies nothing.
	if err := env.DB.Gorm.Exec("UPDATE users SET email = ? WHERE id = ?", "new@example.com", u.ID).Error; err != nil {
		t.Fatal(err)
	}
	_, page := env.Get(t, b, second)
	if page.Status != http.StatusBadRequest {
		t.Errorf("link for an old address: %d", page.Status)
	}
	if err := env.DB.Gorm.Exec("UPDATE users SET email = ? WHERE id = ?", testEmail, u.ID).Error; err != nil {
		t.Fatal(err)
	}
	// Expired after 24 hours.
	env.Clock.Advance(24*time.Hour + time.Minute)
	invalid("expired link", confirm(t, env, b, second))
}
