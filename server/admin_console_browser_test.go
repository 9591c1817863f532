package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"idp/admin"
	"idp/server/servertest"
)

// waitURL waits until the tab's location contains part: a form's
// submission has landed. Reads during the navigation may fail; they are
// retried until the step's timeout.
func waitURL(b *browser, step, part string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && strings.Contains(loc, part) {
			if _, err := chromedp.Run(ctx, chromedp.WaitReady(chromedp.CSS("footer"))); err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			b.fatal(step, fmt.Errorf("location never contained %q (last %q, %v)", part, loc, err))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestAdminBrowserConsole drives Chromium through an administrator's
// daily work on one user: search for them, open their page, change their
// roles, unlock the throttled account, end their session (the user's
// browser is then really signed out), reset their second factors, disable
// them through the confirmation, enable them again, and find each of
// those actions on the audit page filtered to that user.
func TestAdminBrowserConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	env := servertest.New(t)
	ctx := context.Background()
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	env.CreateUser(t, "someone.else@example.com", testPassword)
	ann := env.CreateUser(t, testEmail, testPassword)
	// Ada's own browser: signed in, with an authenticator app set up.
	ub := env.Browser(t)
	annSession := signInSession(t, env, ub, ann.ID, testEmail, testPassword)
	enrollTOTPFromAccount(t, env, ub)
	for range 8 {
		if _, err := env.App.Throttle.Fail(ctx, testEmail, "192.0.2.77"); err != nil {
			t.Fatal(err)
		}
	}
	notice := func(step, code string) {
		t.Helper()
		waitURL(b, step, "notice="+code)
		b.do(step+": notice", chromedp.WaitVisible(chromedp.CSS(`.alert-success[role="status"]`)))
	}
	confirm := func(step, label string) {
		t.Helper()
		const button = `form input[name="confirm"][value="yes"] ~ button[type="submit"]`
		b.do(step+": confirmation", chromedp.WaitVisible(chromedp.CSS(button)))
		if got := b.text(button); got != label {
			t.Errorf("%s: confirm button reads %q, want %q", step, got, label)
		}
		b.do(step+": confirm", chromedp.Click(chromedp.CSS(button)))
	}

	b.do("sign in as the administrator",
		chromedp.Navigate(env.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("profile-heading")),
	)

	// 1. Search, open the user.
	b.do("search for ann",
		chromedp.Navigate(env.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.ID("user-search")),
		chromedp.SendKeys(chromedp.ID("user-search"), "ADA@"),
		chromedp.Submit(chromedp.ID("user-search")),
	)
	waitURL(b, "search results", "q=ADA")
	rows := run(b, "result rows", chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("main table tbody tr"),
		tr => Array.from(tr.cells, td => td.textContent.trim()))`))
	if len(rows) != 1 || rows[0][0] != testEmail || !strings.Contains(rows[0][3], "totp") || !strings.Contains(rows[0][4], "locked") {
		t.Fatalf("search rows %q: want only %s, with totp and locked", rows, testEmail)
	}
	b.shot("console-01-search")
	b.do("open ann's page",
		chromedp.Click(chromedp.CSS(`main table tbody a[href="/admin/users/`+ann.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("profile-roles")),
	)
	if h := b.text("h1"); h != testEmail {
		t.Errorf("user page heading %q", h)
	}
	if s := b.text("#lock-status"); !strings.Contains(s, "throttle this account until") {
		t.Errorf("lock status %q", s)
	}
	b.shot("console-02-user")

	// 2. Roles.
	b.do("edit roles",
		chromedp.Clear(chromedp.ID("profile-roles")),
		chromedp.SendKeys(chromedp.ID("profile-roles"), "ops, support"),
		chromedp.Click(chromedp.CSS(`form[action$="/profile"] button[type="submit"]`)),
	)
	notice("save roles", "user-updated")
	if u := user(t, env, ann.ID); strings.Join(u.Roles, ",") != "ops,support" {
		t.Errorf("roles saved as %q", u.Roles)
	}

	// 3. Unlock.
	b.do("unlock", chromedp.Click(chromedp.CSS(`form[action$="/unlock"] button`)))
	notice("unlock", "user-unlocked")
	if s := b.text("#lock-status"); !strings.Contains(s, "Not throttled") {
		t.Errorf("lock status after unlock %q", s)
	}

	// 4. End ann's session: her browser is signed out.
	b.do("end the session", chromedp.Click(chromedp.CSS(`#sessions form:has(input[name="id"][value="`+annSession+`"]) button`)))
	confirm("end the session", "End session")
	notice("end the session", "session-ended")
	if resp, _ := env.Get(t, ub, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("ann's ended session still opens /account: %d", resp.StatusCode)
	}
	if n := b.text("#sessions tbody"); !strings.Contains(n, "No live sessions.") {
		t.Errorf("sessions after ending the only one: %q", n)
	}

	// 5. Reset second factors.
	if s := b.text("#totp-status"); !strings.Contains(s, "Authenticator app set up") {
		t.Errorf("totp status %q", s)
	}
	b.do("reset second factors", chromedp.Click(chromedp.CSS(`form[action$="/reset-mfa"] button`)))
	confirm("reset second factors", "Reset second factors")
	notice("reset second factors", "mfa-reset")
	if s := b.text("#totp-status"); s != "No authenticator app." {
		t.Errorf("totp status after reset %q", s)
	}
	if f, _ := env.App.Admin.UserFactors(ctx, admin.UserRef{ID: ann.ID}); f.TOTP || f.RecoveryLeft != 0 {
		t.Errorf("factors after reset: %+v", f)
	}

	// 6. Disable with confirmation, then enable.
	b.do("disable", chromedp.Click(chromedp.CSS(`form[action$="/disable"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form input[name="confirm"][value="yes"] ~ button`)))
	b.shot("console-03-confirm-disable")
	if user(t, env, ann.ID).Disabled {
		t.Fatal("disabled before the confirmation")
	}
	confirm("disable", "Disable")
	notice("disable", "user-disabled")
	if !user(t, env, ann.ID).Disabled {
		t.Fatal("not disabled after the confirmation")
	}
	b.do("enable", chromedp.Click(chromedp.CSS(`form[action$="/enable"] button`)))
	notice("enable", "user-enabled")
	if user(t, env, ann.ID).Disabled {
		t.Fatal("still disabled")
	}
	if _, err := env.Users.Authenticate(ctx, testEmail, testPassword); err != nil {
		t.Errorf("ann cannot sign in after enabling: %v", err)
	}

	// 7. The audit page, filtered to ann and user.* actions.
	b.do("filter the audit page",
		chromedp.Navigate(env.URL+"/admin/audit"),
		chromedp.WaitVisible(chromedp.ID("audit-subject")),
		chromedp.SendKeys(chromedp.ID("audit-subject"), ann.ID),
		chromedp.SendKeys(chromedp.ID("audit-kind"), "user."),
		chromedp.Click(chromedp.CSS(`#audit-filter button[type="submit"]`)),
	)
	waitURL(b, "filtered", "kind=user.")
	rows = run(b, "audit rows", chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("main table tbody tr"),
		tr => Array.from(tr.cells, td => td.textContent.trim()))`))
	var actions []string
	for _, r := range rows {
		if len(r) != 7 || r[3] != ann.ID || r[1] != adminEmail || r[4] != "web" {
			t.Errorf("audit row %q: want target %s by %s via web", r, ann.ID, adminEmail)
			continue
		}
		actions = append(actions, r[2])
	}
	if got := strings.Join(actions, " "); got != "user.enabled user.disabled user.unlocked user.updated" {
		t.Errorf("filtered audit actions %q", got)
	}
	if href := run(b, "export link", chromedp.AttributeValue(chromedp.ID("audit-export"), "href")); !strings.Contains(href.Value, "subject="+ann.ID) {
		t.Errorf("export link %q does not carry the filter", href.Value)
	}
	b.shot("console-04-audit")

	for _, e := range b.pageLog() {
		if e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity {
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}
