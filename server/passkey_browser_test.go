package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"idp/clients"
	"idp/mfa"
	"idp/server"
	"idp/server/servertest"
)

// localhostIssuer makes the issuer http://localhost:PORT: WebAuthn takes
// its relying party id from the host, and an IP address cannot be one.
func localhostIssuer(c *server.Config) {
	c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1)
}

// virtualAuthenticator gives the tab a platform authenticator that holds
// discoverable credentials and verifies its user (the DevTools WebAuthn
// domain), and returns its id.
func (b *browser) virtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	var id webauthn.AuthenticatorID
	b.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true,
			}})
		id = res.AuthenticatorID
		return err
	}))
	b.authenticator = id
	return id
}

// presence turns the virtual authenticator's automatic user presence on
// or off: off, a ceremony waits as for a person who has not touched the
// key yet.
func (b *browser) presence(on bool) {
	b.t.Helper()
	b.do("user presence", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, webauthn.SetAutomaticPresenceSimulation,
			webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: b.authenticator, Enabled: on})
		return err
	}))
}

// signOut signs the browser out of idp from the account page.
func (b *browser) signOut(issuer string) {
	b.t.Helper()
	b.do("sign out",
		chromedp.Navigate(issuer+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"] button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.icon-badge-success`)),
	)
}

// TestBrowserPasskey registers a passkey from the account page in a real
// Chromium with a virtual authenticator, signs out, signs in to a relying
// party with the passkey alone, then uses it as the second factor after
// a password.
func TestBrowserPasskey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	b.virtualAuthenticator()

	env := servertest.New(t, localhostIssuer)
	issuer := env.Config.Issuer
	user := env.CreateUser(t, testEmail, testPassword, "staff")
	app := newRelyingParty(t)
	client, secret := env.CreateClient(t, clients.Spec{
		ID: "acme-notes", Name: "Acme Notes", Trusted: true, RedirectURIs: []string{app.srv.URL + "/callback"},
	})
	app.configure(t, issuer, client.ID, secret)

	// 1. Sign in with the password, straight to the account page.
	b.do("sign in with the password",
		chromedp.Navigate(issuer+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("security-heading")),
	)
	b.shot("passkey-01-account")

	// 2. Add a passkey: the script runs the ceremony, the first factor
	// brings the recovery codes.
	b.do("add a passkey",
		chromedp.WaitVisible(chromedp.CSS(`form[data-webauthn="create"] button[data-webauthn-start]`)),
		chromedp.SendKeys(chromedp.ID("new-passkey-name"), "Test laptop"),
		chromedp.Click(chromedp.CSS(`form[data-webauthn="create"] button[data-webauthn-start]`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.code-list`)),
	)
	if n := strings.Count(b.text("ul.code-list"), "-"); n != 20 {
		t.Errorf("recovery codes page shows %d dashes, want 10 codes of xxxx-xxxx-xxxx", n)
	}
	b.shot("passkey-02-recovery-codes")
	b.do("continue to the account page",
		chromedp.Click(chromedp.CSS(`form[action="/account/security/done"] button`)),
		chromedp.WaitVisible(chromedp.ID("passkeys-heading")),
	)
	if body := b.text("main"); !strings.Contains(body, "Test laptop") || !strings.Contains(body, "AAGUID") {
		t.Errorf("account page lacks the new passkey:\n%s", body)
	}
	if n := rowCount(t, env, "passkeys", "user_id = ?", user.ID); n != 1 {
		t.Fatalf("%d passkeys stored", n)
	}
	b.shot("passkey-03-account-with-passkey")

	// 3. Sign out.
	b.signOut(issuer)

	// 4. The relying party's sign-in with the passkey only: no email, no
	// password. The sign-in page offers the passkey in the email field's
	// autofill (conditional mediation); the virtual authenticator answers
	// at once, so the page signs in by itself.
	b.do("open the app's sign-in link: the passkey autofill signs in",
		chromedp.Navigate(app.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("rp-result")),
	)
	checkPasswordless := func(step string, got rpResult) {
		t.Helper()
		if got.Err != nil || got.Subject != user.ID || !(slices.Contains(got.AMR, "hwk") || slices.Contains(got.AMR, "swk")) ||
			!slices.Contains(got.AMR, "user") || slices.Contains(got.AMR, "pwd") {
			t.Errorf("%s: sub %q amr %v err %v", step, got.Subject, got.AMR, got.Err)
		}
		if got.ACR != mfa.ACRPhishingResistant {
			t.Errorf("%s: acr %q, want phr", step, got.ACR)
		}
	}
	out := app.outcomes()
	if len(out) != 1 {
		t.Fatalf("relying party results %+v; page: %s", out, b.text("main"))
	}
	checkPasswordless("conditional UI", out[0])
	b.shot("passkey-04-rp-signed-in")

	// 4b. The same with the button: the authenticator waits for "presence"
	// until the button is pressed, so the autofill cannot answer first.
	b.signOut(issuer)
	b.presence(false)
	b.do("open the app's sign-in link",
		chromedp.Navigate(app.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login/passkey"] button[data-webauthn-start]`)),
	)
	b.shot("passkey-05-sign-in")
	b.presence(true)
	b.do("sign in with a passkey",
		chromedp.Click(chromedp.CSS(`form[action="/login/passkey"] button[data-webauthn-start]`)),
		chromedp.WaitVisible(chromedp.ID("rp-result")),
	)
	out = app.outcomes()
	if len(out) != 2 {
		t.Fatalf("relying party results %+v; page: %s", out, b.text("main"))
	}
	checkPasswordless("the passkey button", out[1])

	// 5. Sign out, then the password: the passkey is now the second
	// factor, and the ID token says mfa.
	b.signOut(issuer)
	b.presence(false)
	b.do("password for the app",
		chromedp.Navigate(app.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login/mfa/passkey"] button[data-webauthn-start]`)),
	)
	b.presence(true)
	b.shot("passkey-06-second-factor")
	b.do("the passkey as second factor",
		chromedp.Click(chromedp.CSS(`form[action="/login/mfa/passkey"] button[data-webauthn-start]`)),
		chromedp.WaitVisible(chromedp.ID("rp-result")),
	)
	out = app.outcomes()
	if len(out) != 3 || out[2].Err != nil {
		t.Fatalf("relying party results %+v; page: %s", out, b.text("main"))
	}
	if amr := out[2].AMR; !slices.Contains(amr, "pwd") || !slices.Contains(amr, "mfa") || !slices.Contains(amr, "hwk") {
		t.Errorf("password + passkey: amr %v, want pwd, hwk and mfa", amr)
	}
	if n := rowCount(t, env, "audit_events", "action = 'signin.success' AND target = ?", user.ID); n < 3 {
		t.Errorf("%d sign-ins audited", n)
	}

	// No CSP violation or script error on any page.
	for _, e := range b.pageLog() {
		t.Logf("browser log: %s %s %s %s", e.Level, e.Source, e.Text, e.URL)
		if e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity {
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}

// registerPasskey signs the browser in with the password and adds a
// passkey from the account page, then signs out.
func (b *browser) registerPasskey(issuer string) {
	b.t.Helper()
	b.do("sign in and add a passkey",
		chromedp.Navigate(issuer+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-webauthn="create"] button[data-webauthn-start]`)),
		chromedp.Click(chromedp.CSS(`form[data-webauthn="create"] button[data-webauthn-start]`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.code-list`)),
	)
	b.signOut(issuer)
}

// overrides makes the virtual authenticator answer with a zeroed
// signature or without the user-verified flag.
func (b *browser) overrides(bogusSignature, badUV bool) {
	b.t.Helper()
	b.do("response override bits", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{
			AuthenticatorID: b.authenticator, IsBogusSignature: &bogusSignature, IsBadUV: &badUV})
		return err
	}))
}

// prepareJS runs a passwordless ceremony from the page's origin (the
// CSRF token from the sign-in page) without the sign-in form, and keeps
// the authenticator's answer in the page for postJS.
const prepareJS = `(async () => {
  const login = await (await fetch("/login")).text();
  const csrf = login.match(/name="csrf_token" value="([^"]+)"/)[1];
  const b64 = s => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), c => c.charCodeAt(0));
  const enc = buf => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const r = await fetch("/login/passkey/options", {method: "POST", body: new URLSearchParams({csrf_token: csrf})});
  const c = await r.json();
  const pk = c.options.publicKey;
  pk.challenge = b64(pk.challenge);
  const cred = await navigator.credentials.get({publicKey: pk});
  window.__answer = {csrf_token: csrf, handle: c.handle, credential: JSON.stringify({id: cred.id, rawId: enc(cred.rawId),
    type: cred.type, clientExtensionResults: {}, response: {clientDataJSON: enc(cred.response.clientDataJSON),
      authenticatorData: enc(cred.response.authenticatorData), signature: enc(cred.response.signature),
      userHandle: enc(cred.response.userHandle)}})};
  return "ready";
})()`

// postJS posts the kept answer %d times and reports each outcome: a
// sign-in (a redirect) or the status, and whether the page said the
// passkey could not be verified.
const postJS = `(async () => {
  const out = [];
  for (let i = 0; i < %d; i++) {
    const resp = await fetch("/login/passkey", {method: "POST", redirect: "manual", body: new URLSearchParams(window.__answer)});
    const text = resp.type === "opaqueredirect" ? "" : await resp.text();
    out.push((resp.type === "opaqueredirect" ? "signed-in" : String(resp.status)) + (text.includes("could not be verified") ? "/refused" : ""));
  }
  return out.join(" ");
})()`

// answer runs a ceremony and posts its answer n times.
func (b *browser) answer(step string, n int) string {
	b.t.Helper()
	if got := run(b, step+": ceremony", chromedp.Evaluate[string](prepareJS, chromedp.EvalAwaitPromise)); got != "ready" {
		b.t.Fatalf("%s: %q", step, got)
	}
	return run(b, step+": post", chromedp.Evaluate[string](fmt.Sprintf(postJS, n), chromedp.EvalAwaitPromise))
}

// TestBrowserPasskeyRefusals: a forged signature, a missing user
// verification and a replayed answer are refused, start no session and
// are audited.
func TestBrowserPasskeyRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	b.virtualAuthenticator()
	env := servertest.New(t, localhostIssuer)
	issuer := env.Config.Issuer
	user := env.CreateUser(t, testEmail, testPassword)
	b.registerPasskey(issuer)
	before := rowCount(t, env, "sessions", "")

	// The sign-in page's own passkey autofill would hold the authenticator;
	// the ceremonies below run from a script on a plain page of the same
	// origin instead.
	b.do("open a page of idp without the ceremony script", chromedp.Navigate(issuer+"/consent"))
	for _, tc := range []struct {
		name         string
		bogus, badUV bool
	}{{"a forged signature", true, false}, {"no user verification", false, true}} {
		b.overrides(tc.bogus, tc.badUV)
		if got := b.answer(tc.name, 1); got != "401/refused" {
			t.Errorf("%s: %q, want the refusal page", tc.name, got)
		}
		if n := rowCount(t, env, "sessions", ""); n != before {
			t.Errorf("%s: %d sessions, want %d", tc.name, n, before)
		}
	}
	if n := rowCount(t, env, "audit_events", "action = 'signin.failure' AND detail LIKE 'factor=passkey%'"); n != 2 {
		t.Errorf("%d refused passkey sign-ins audited, want 2", n)
	}
	if n := rowCount(t, env, "passkeys", "user_id = ? AND last_used_at IS NOT NULL", user.ID); n != 0 {
		t.Errorf("a refused assertion recorded a use of the passkey")
	}

	// A right answer posted twice: the first signs in, the second finds
	// its challenge spent.
	b.overrides(false, false)
	// A challenge older than its lifetime is refused even with a right
	// answer.
	if got := run(b, "an old challenge", chromedp.Evaluate[string](prepareJS, chromedp.EvalAwaitPromise)); got != "ready" {
		t.Fatal(got)
	}
	env.Clock.Advance(mfa.CeremonyTTL + time.Second)
	if got := run(b, "an old challenge: post", chromedp.Evaluate[string](fmt.Sprintf(postJS, 1), chromedp.EvalAwaitPromise)); got != "401/refused" {
		t.Errorf("an expired challenge: %q", got)
	}
	if got := b.answer("replay an answer", 2); got != "signed-in 401/refused" {
		t.Errorf("the same answer twice: %q, want a sign-in then the refusal", got)
	}
	if n := rowCount(t, env, "sessions", "user_id = ?", user.ID); n != before+1 {
		t.Errorf("%d sessions after the replay, want one more than %d", n, before)
	}
	if n := rowCount(t, env, "audit_events", "action = 'signin.failure' AND detail LIKE '%challenge%'"); n != 2 {
		t.Errorf("the expired and the replayed challenge were not both audited (%d)", n)
	}
}
