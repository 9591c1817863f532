package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"idp/mail/mailtest"
	"idp/server/servertest"
)

// TestBrowserPasswordReset drives a real Chromium through "Forgot your
// password?": the sign-in page's link, the request form, the mail as the
// SMTP server received it, the link, the new password, and a sign-in with
// it.
func TestBrowserPasswordReset(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	srv := mailtest.Start(t, mailtest.Options{})
	env := servertest.NewWithMail(t, srv)
	env.CreateUser(t, testEmail, testPassword)

	b.do("open the sign-in page and follow the reset link",
		chromedp.Navigate(env.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("forgot-password")),
		chromedp.Click(chromedp.ID("forgot-password")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login/forgot"] #email`)),
	)
	if h := b.text("h1"); h != "Forgot your password?" {
		t.Errorf("heading %q", h)
	}
	b.shot("reset-01-ask")
	b.do("ask for a link",
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.Click(chromedp.CSS(`form[action="/login/forgot"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("reset-sent")),
	)
	b.shot("reset-02-sent")

	link := mailedLink(t, env, srv, testEmail)
	b.do("open the mailed link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login/reset"] #password`)),
	)
	b.do("mistype the confirmation",
		chromedp.SendKeys(chromedp.ID("password"), newPassword),
		chromedp.SendKeys(chromedp.ID("confirm"), newPassword+"!"),
		chromedp.Click(chromedp.CSS(`form[action="/login/reset"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("reset-error")),
	)
	if a := b.text("#reset-error"); !strings.Contains(a, "The two passwords differ") {
		t.Errorf("alert %q", a)
	}
	b.do("choose the new password",
		chromedp.SendKeys(chromedp.ID("password"), newPassword),
		chromedp.SendKeys(chromedp.ID("confirm"), newPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login/reset"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("reset-done")),
	)
	if body := b.text("main"); !strings.Contains(body, "signed out everywhere") {
		t.Errorf("done page: %s", body)
	}
	b.shot("reset-03-done")

	b.do("sign in with the new password",
		chromedp.Click(chromedp.CSS(`a[href="/login"].button-primary`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), newPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("profile-heading")),
	)
	if body := b.text("main"); !strings.Contains(body, testEmail) {
		t.Errorf("account page after the reset lacks the email: %s", body)
	}
	b.shot("reset-04-account")
	for _, e := range b.pageLog() {
		switch {
		case e.Source == log.EntrySourceNetwork && strings.Contains(e.Text, "400") && e.URL == env.URL+"/login/reset":
			// the mistyped confirmation, on purpose
		case e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity:
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}
