package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"

	"idp/clients"
)

// TestBrowserDeviceApproval: a device asks for codes and polls; a person
// opens verification_uri_complete in Chromium, signs in, finds the code
// prefilled, sees the device's name and what it asks, and approves; the
// device's next poll gets a verified ID token.
func TestBrowserDeviceApproval(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	d := newDeviceEnv(t, clients.Spec{})
	da := d.start(t, "openid", "email")
	status, body := d.poll(t, da.DeviceCode)
	wantPollError(t, "before the person answers", status, body, "authorization_pending")

	b.do("open the link the device shows",
		chromedp.Navigate(da.VerificationURIComplete),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
	)
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/device"] #user_code`)),
	)
	if v := run(b, "prefilled code", chromedp.Value(chromedp.ID("user_code"))); v != da.UserCode {
		t.Fatalf("code field %q, want %q", v, da.UserCode)
	}
	b.shot("device-01-code")
	b.do("continue with the code",
		chromedp.Click(chromedp.CSS(`form[action="/device"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("device-approve")),
	)
	if h := b.text("h1"); h != "Living Room TV wants to access your account" {
		t.Errorf("confirmation heading %q", h)
	}
	if main := b.text("main"); !strings.Contains(main, da.UserCode) || !strings.Contains(main, "See your email address") {
		t.Errorf("confirmation lacks the code or the scopes:\n%s", main)
	}
	b.shot("device-02-confirm")
	b.do("approve",
		chromedp.Click(chromedp.ID("device-approve")),
		chromedp.WaitVisible(chromedp.ID("device-approved")),
	)
	if h := b.text("h1"); h != "Approved — you may close this window" {
		t.Errorf("outcome heading %q", h)
	}
	b.shot("device-03-approved")

	status, body = d.poll(t, da.DeviceCode)
	if status != http.StatusOK {
		t.Fatalf("poll after approval: %d %v", status, body)
	}
	raw, _ := body["id_token"].(string)
	if _, err := d.provider.Verifier(&oidc.Config{ClientID: d.clientID, Now: d.env.Clock.Now}).Verify(context.Background(), raw); err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	for _, e := range b.pageLog() {
		if e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity {
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}
