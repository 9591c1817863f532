package server_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
)

// The browser test drives a real Chromium through the whole authorization
// code flow, the way a person would: a relying party ("Acme Notes") sends
// the browser to idp, the person mistypes the password, signs in, allows
// access, and the relying party exchanges the code and verifies the ID
// token itself. Then the person visits the account page and signs out.
//
// It needs Debian's chromium (apt-get install -y chromium). Without it the
// test is skipped, except under CI=true, where a missing browser fails.
// Set IDP_SCREENSHOTS to a directory to keep a PNG of every page.

const (
	browserStepTimeout  = 60 * time.Second
	browserTotalTimeout = 3 * time.Minute
	browserWidth        = 1200
	browserHeight       = 800
)

// chromiumPath finds Debian's chromium, or skips (fails under CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const msg = "chromium is not installed (neither /usr/bin/chromium nor chromium on PATH); install it with: apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (the browser test is required when CI=true)")
	return ""
}

// browser is one Chromium tab for a test, with the page log it collected.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab; each step derives a timeout from it
	dirs []string        // where screenshots go

	mu   sync.Mutex
	logs []*log.Entry

	// authenticator is the tab's virtual WebAuthn authenticator, if any.
	authenticator webauthn.AuthenticatorID
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	execPath := chromiumPath(t)
	root, cancelRoot := context.WithTimeout(context.Background(), browserTotalTimeout)
	t.Cleanup(cancelRoot)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root,
		chromedp.ExecPath(execPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
	)
	t.Cleanup(cancelAlloc) // kills the browser and waits for it
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)

	b := &browser{t: t, ctx: tab, dirs: []string{t.TempDir()}}
	if d := os.Getenv("IDP_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("IDP_SCREENSHOTS: %v", err)
		}
		b.dirs = append(b.dirs, d)
	}
	// A 1200x800 viewport without scrollbars, so full-page screenshots of
	// long pages keep the full width; both are protocol calls, not flags.
	// This first Do starts the browser on the tab context, which has no
	// step timeout: the browser lives until the test ends.
	hideScrollbars := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScrollbarsHidden, emulation.SetScrollbarsHiddenParams{Hidden: true})
		return err
	})
	if err := chromedp.Do(tab, chromedp.EmulateViewport(browserWidth, browserHeight), hideScrollbars); err != nil {
		t.Fatalf("start chromium (%s): %v", execPath, err)
	}
	// Keep the page log (CSP violations, failed loads, script errors).
	entries := chromedp.Events(tab, log.EntryAdded)
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logs = append(b.logs, ev.Entry)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs one step of actions with its own timeout.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatal(step, err)
	}
}

// text returns the visible text of the first element matching the selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return run(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func run[T any](b *browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatal(step, err)
	}
	return v
}

// fatal fails the test with where the browser is, and a screenshot of it.
func (b *browser) fatal(step string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		b.save("failure", png)
	}
	b.t.Fatalf("browser: %s: %v\n  at %s\n  page text: %.600s", step, err, where, body)
}

// shot saves a full-page PNG of the current page as NAME.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	b.save(name, run(b, "screenshot "+name, chromedp.FullScreenshot(100)))
}

func (b *browser) save(name string, png []byte) {
	b.t.Helper()
	for _, d := range b.dirs {
		p := filepath.Join(d, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			b.t.Errorf("save screenshot: %v", err)
			continue
		}
		b.t.Logf("screenshot %s (%d bytes)", p, len(png))
	}
}

func (b *browser) pageLog() []*log.Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*log.Entry(nil), b.logs...)
}

// relyingParty is a tiny web app that signs its users in with idp using
// only public libraries: go-oidc for discovery and ID token verification,
// x/oauth2 for the authorization URL (state, nonce, PKCE) and the exchange.
type relyingParty struct {
	srv      *httptest.Server
	issuer   string
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier

	mu      sync.Mutex
	pending map[string]pendingLogin // by state
	results []rpResult
}

type pendingLogin struct{ nonce, pkce string }

type rpResult struct {
	Email, Subject string
	// AMR and ACR say how the ID token says the user signed in.
	AMR []string
	ACR string
	Err error
}

var rpPage = template.Must(template.New("rp").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Notes</title>
<link rel="icon" href="data:,"></head>
<body><main id="rp-result" data-ok="{{if .Err}}false{{else}}true{{end}}">
{{- if .Err}}<h1>Sign-in failed</h1><p id="rp-error">{{.Err}}</p>
{{- else}}<h1>Acme Notes</h1><p>You are signed in as <strong id="rp-email">{{.Email}}</strong>.</p>{{end}}
</main></body></html>`))

func newRelyingParty(t *testing.T) *relyingParty {
	rp := &relyingParty{pending: map[string]pendingLogin{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

// configure discovers idp and sets the client credentials; it runs before
// the first request reaches the relying party.
func (rp *relyingParty) configure(t *testing.T, issuer, clientID, secret string) {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	rp.issuer = issuer
	rp.conf = oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: rp.srv.URL + "/callback",
		Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
	}
	rp.verifier = provider.Verifier(&oidc.Config{ClientID: clientID})
}

// login starts a sign-in: fresh state, nonce and PKCE verifier.
func (rp *relyingParty) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, pkce := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.pending[state] = pendingLogin{nonce: nonce, pkce: pkce}
	rp.mu.Unlock()
	http.Redirect(w, r, rp.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), http.StatusFound)
}

// callback finishes it: checks state and iss, exchanges the code with the
// PKCE verifier, verifies the ID token and its nonce, and shows the email.
func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	res := rp.finish(r)
	rp.mu.Lock()
	rp.results = append(rp.results, res)
	rp.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if res.Err != nil {
		w.WriteHeader(http.StatusBadRequest)
	}
	_ = rpPage.Execute(w, res)
}

func (rp *relyingParty) finish(r *http.Request) rpResult {
	q := r.URL.Query()
	rp.mu.Lock()
	p, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	rp.mu.Unlock()
	switch {
	case !ok:
		return rpResult{Err: fmt.Errorf("unknown state %q", q.Get("state"))}
	case q.Get("error") != "":
		return rpResult{Err: fmt.Errorf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))}
	case q.Get("iss") != rp.issuer: // RFC 9207 mix-up defence
		return rpResult{Err: fmt.Errorf("iss %q, want %q", q.Get("iss"), rp.issuer)}
	}
	tok, err := rp.conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p.pkce))
	if err != nil {
		return rpResult{Err: fmt.Errorf("exchange: %w", err)}
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(r.Context(), raw)
	if err != nil {
		return rpResult{Err: fmt.Errorf("verify ID token: %w", err)}
	}
	if idt.Nonce != p.nonce {
		return rpResult{Err: errors.New("ID token nonce does not match")}
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return rpResult{Err: fmt.Errorf("at_hash: %w", err)}
	}
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified *bool    `json:"email_verified"`
		AMR           []string `json:"amr"`
		ACR           string   `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil {
		return rpResult{Err: err}
	}
	return rpResult{Email: claims.Email, Subject: idt.Subject, AMR: claims.AMR, ACR: claims.ACR}
}

func (rp *relyingParty) outcomes() []rpResult {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]rpResult(nil), rp.results...)
}

func TestBrowserSignInConsentAccountSignOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)

	env := servertest.New(t)
	user := env.CreateUser(t, testEmail, testPassword, "staff")
	app := newRelyingParty(t)
	client, secret := env.CreateClient(t, clients.Spec{
		ID: "acme-notes", Name: "Acme Notes", RedirectURIs: []string{app.srv.URL + "/callback"},
	})
	app.configure(t, env.URL, client.ID, secret)

	// 1. The app sends the browser to idp's sign-in page.
	b.do("open the app's sign-in link",
		chromedp.Navigate(app.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
	)
	if h := b.text("h1"); h != "Sign in to continue to Acme Notes" {
		t.Errorf("sign-in heading %q", h)
	}
	if loc := run(b, "location", chromedp.Location()); !strings.HasPrefix(loc, env.URL+"/login?req=") {
		t.Errorf("sign-in page at %s", loc)
	}
	b.shot("01-sign-in")

	// 2. A wrong password shows the alert and keeps the email.
	b.do("sign in with a wrong password",
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), "not my password"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	)
	if a := b.text("#login-error"); a != "Wrong email or password." {
		t.Errorf("alert %q, want %q", a, "Wrong email or password.")
	}
	if role := run(b, "alert role", chromedp.AttributeValue(chromedp.ID("login-error"), "role")); role.Value != "alert" {
		t.Errorf("error region role %q", role.Value)
	}
	if v := run(b, "email kept", chromedp.Value(chromedp.ID("email"))); v != testEmail {
		t.Errorf("email field after a failed sign-in = %q, want %q", v, testEmail)
	}
	if v := run(b, "password cleared", chromedp.Value(chromedp.ID("password"))); v != "" {
		t.Errorf("password field was refilled after a failed sign-in")
	}
	b.shot("02-sign-in-error")

	// 3. The right password leads to the consent page for Acme Notes.
	b.do("sign in with the right password",
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/consent"] button[value="allow"]`)),
	)
	if h := b.text("h1"); h != "Acme Notes wants to access your account" {
		t.Errorf("consent heading %q", h)
	}
	if body := b.text("main"); !strings.Contains(body, testEmail) || !strings.Contains(body, "See your email address") {
		t.Errorf("consent page lacks the user or the scopes:\n%s", body)
	}
	b.shot("03-consent")

	// 4. Allow: the app gets the code, exchanges it and shows the email.
	b.do("allow",
		chromedp.Click(chromedp.CSS(`form[action="/consent"] button[value="allow"]`)),
		chromedp.WaitVisible(chromedp.ID("rp-result")),
	)
	out := app.outcomes()
	if len(out) != 1 || out[0].Err != nil {
		t.Fatalf("relying party results %+v; page: %s", out, b.text("main"))
	}
	if out[0].Subject != user.ID || out[0].Email != testEmail {
		t.Errorf("relying party signed in sub %q email %q, want %q %q", out[0].Subject, out[0].Email, user.ID, testEmail)
	}
	if got := b.text("#rp-email"); got != testEmail {
		t.Errorf("app shows %q, want %q", got, testEmail)
	}
	if loc := run(b, "location", chromedp.Location()); !strings.HasPrefix(loc, app.srv.URL+"/callback?") {
		t.Errorf("app page at %s", loc)
	}
	b.shot("04-rp-result")

	// 5. The account page knows the person.
	b.do("open the account page",
		chromedp.Navigate(env.URL+"/account"),
		chromedp.WaitVisible(chromedp.ID("profile-heading")),
	)
	if body := b.text("main"); !strings.Contains(body, testEmail) || !strings.Contains(body, "this device") {
		t.Errorf("account page lacks the email or the current session:\n%s", body)
	}
	b.shot("05-account")

	// 6. Sign out.
	b.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.icon-badge-success`)),
	)
	if h := b.text("h1"); h != "Signed out" {
		t.Errorf("signed-out heading %q", h)
	}
	b.shot("06-signed-out")

	// Signed out for real: the account page asks to sign in again.
	b.do("account after sign-out",
		chromedp.Navigate(env.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
	)

	// No CSP violation or script error on any page. The 401 of the wrong
	// password is the only failed load.
	for _, e := range b.pageLog() {
		t.Logf("browser log: %s %s %s %s", e.Level, e.Source, e.Text, e.URL)
		switch {
		case e.Source == log.EntrySourceNetwork && strings.Contains(e.Text, "401") && strings.HasPrefix(e.URL, env.URL+"/login"):
		case e.Level == log.EntryLevelError || e.Source == log.EntrySourceSecurity:
			t.Errorf("browser reported: %s %s: %s (%s)", e.Level, e.Source, e.Text, e.URL)
		}
	}
}
