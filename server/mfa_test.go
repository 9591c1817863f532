package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"idp/clients"
	"idp/mfa"
	"idp/mfa/mfatest"
	"idp/server"
	"idp/server/servertest"
	"idp/tokens"
)

// Strong sign-in through the whole server: authenticator apps, recovery
// codes, the role and client policies, acr_values step-up, admin reset.
// Passkeys have their own tests (mfa_passkey_test.go and the browser test).

var (
	totpSecretRE   = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryCodeRE = regexp.MustCompile(`<li class="mono">([a-z0-9-]+)</li>`)
)

// codeAt is the authenticator app's code for secret at t.
func codeAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nextStep moves the clock to the next 30-second step, so a fresh code
// exists (a code is accepted once).
func nextStep(env *servertest.Env) { env.Clock.Advance(30 * time.Second) }

// enrollTOTPFromAccount sets up an authenticator app for the browser's
// signed-in user from the account page; it returns the secret and the
// recovery codes shown once.
func enrollTOTPFromAccount(t testing.TB, env *servertest.Env, b *http.Client) (string, []string) {
	t.Helper()
	_, page := env.Get(t, b, "/account/security/totp")
	if page.Status != http.StatusOK {
		t.Fatalf("/account/security/totp: %d", page.Status)
	}
	secret := match1(t, totpSecretRE, page.Body)
	resp, codes := env.PostForm(t, b, "/account/security/enroll/totp", url.Values{
		"csrf_token": {page.CSRF()}, "code": {codeAt(t, secret, env.Clock.Now())}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirming the app: %d %s", resp.StatusCode, codes.Alert())
	}
	var out []string
	for _, m := range recoveryCodeRE.FindAllStringSubmatch(codes.Body, -1) {
		out = append(out, m[1])
	}
	return secret, out
}

func match1(t testing.TB, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page:\n%.2000s", re, body)
	}
	return m[1]
}

// passwordStep posts the password for an authorization and returns the
// second-factor page it must lead to.
func passwordStep(t testing.TB, env *servertest.Env, b *http.Client, authURL, email string) *servertest.Page {
	t.Helper()
	resp, _ := env.Get(t, b, authURL)
	loc := servertest.Location(t, resp)
	if loc.Path != "/login" {
		t.Fatalf("authorize went to %s, want /login", loc)
	}
	_, login := env.Get(t, b, loc.String())
	resp, _ = env.PostForm(t, b, "/login", url.Values{"csrf_token": {login.CSRF()}, "req": {login.RequestID()},
		"email": {email}, "password": {testPassword}})
	loc = servertest.Location(t, resp)
	if loc.Path != "/login/mfa" {
		t.Fatalf("a right password went to %s, want /login/mfa", loc)
	}
	if hasSessionCookie(t, env, b) {
		t.Fatal("a password alone gave a session to a user with a second factor")
	}
	_, page := env.Get(t, b, loc.String())
	if page.Status != http.StatusOK {
		t.Fatalf("second-factor page: %d", page.Status)
	}
	return page
}

// postFactor posts a code to a second-factor form of page.
func postFactor(t testing.TB, env *servertest.Env, b *http.Client, page *servertest.Page, path, code string) (*http.Response, *servertest.Page) {
	t.Helper()
	return env.PostForm(t, b, path, url.Values{"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "code": {code}})
}

// idClaims redeems a code of the first-party client and returns the ID
// token's claims.
func (f *fixture) idClaims(t *testing.T, loc *url.URL) map[string]any {
	t.Helper()
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	r := f.exchange(t, firstID, code, "")
	if r.resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", r.resp.StatusCode, r.raw)
	}
	var claims map[string]any
	decodeJWT(t, r.str("id_token"), &claims)
	return claims
}

func amrOf(claims map[string]any) []string {
	var out []string
	list, _ := claims["amr"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

func TestTOTPSignIn(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	secret, codes := enrollTOTPFromAccount(t, env, b)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	_, account := env.Get(t, b, "/account")
	for _, want := range []string{"On since", "10 of 10 recovery codes left", "Authenticator app turned on"} {
		if !strings.Contains(account.Body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if n := rowCount(t, env, "totp_factors", "user_id = ? AND confirmed_at IS NOT NULL", f.user.ID); n != 1 {
		t.Fatalf("%d confirmed factors", n)
	}
	var sealed []byte
	if err := env.DB.Gorm.Raw("SELECT secret_enc FROM totp_factors WHERE user_id = ?", f.user.ID).Row().Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), secret) {
		t.Fatal("the TOTP secret is stored in the clear")
	}

	nextStep(env)
	good := codeAt(t, secret, env.Clock.Now())
	auth := authorizeURL(firstID, nil)
	b2 := env.Browser(t)
	page := passwordStep(t, env, b2, auth, testEmail)
	if !strings.Contains(page.Body, `action="/login/mfa/totp"`) {
		t.Fatalf("the second-factor page offers no code form:\n%.1500s", page.Body)
	}
	resp, _ := postFactor(t, env, b2, page, "/login/mfa/totp", good)
	loc := servertest.Location(t, resp)
	claims := f.idClaims(t, loc)
	if amr := amrOf(claims); !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("amr %v, want [pwd otp mfa]", amr)
	}
	if claims["acr"] != mfa.ACRMFA {
		t.Errorf("acr %v, want %s", claims["acr"], mfa.ACRMFA)
	}

	// The same code again, in another browser: refused, no session.
	b3 := env.Browser(t)
	page = passwordStep(t, env, b3, auth, testEmail)
	before := countRows(t, env)
	resp, bad := postFactor(t, env, b3, page, "/login/mfa/totp", good)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(bad.Alert(), "not valid") {
		t.Fatalf("a replayed code: %d %q", resp.StatusCode, bad.Alert())
	}
	if hasSessionCookie(t, env, b3) || countRows(t, env) != before {
		t.Fatal("a replayed code changed something")
	}
	// Codes of the wrong window: two steps back, two ahead.
	for _, d := range []time.Duration{-60 * time.Second, 60 * time.Second, -10 * time.Minute} {
		resp, _ := postFactor(t, env, b3, page, "/login/mfa/totp", codeAt(t, secret, env.Clock.Now().Add(d)))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a code %v off: %d, want 401", d, resp.StatusCode)
		}
	}
	// One step off is accepted (clock drift), once: two steps on, the code
	// of the step before now is newer than the one used.
	nextStep(env)
	nextStep(env)
	resp, _ = postFactor(t, env, b3, page, "/login/mfa/totp", codeAt(t, secret, env.Clock.Now().Add(-30*time.Second)))
	if resp.StatusCode == http.StatusUnauthorized {
		t.Error("a code one step old was refused")
	}
	if !hasSessionCookie(t, env, b3) {
		t.Error("no session after the second factor")
	}
}

func TestWrongCodesThrottleLikePasswords(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	secret, _ := enrollTOTPFromAccount(t, env, b)
	nextStep(env)
	b2 := env.Browser(t)
	page := passwordStep(t, env, b2, authorizeURL(firstID, nil), testEmail)
	throttled := false
	for i := range 10 {
		resp, p := postFactor(t, env, b2, page, "/login/mfa/totp", "000000")
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = true
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(p.Alert(), "Too many failed attempts") {
				t.Errorf("throttled answer lacks Retry-After or words: %q", p.Alert())
			}
			break
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, resp.StatusCode)
		}
	}
	if !throttled {
		t.Fatal("10 wrong codes were never throttled")
	}
	// While throttled even the right code is not checked.
	resp, _ := postFactor(t, env, b2, page, "/login/mfa/totp", codeAt(t, secret, env.Clock.Now()))
	if resp.StatusCode != http.StatusTooManyRequests || hasSessionCookie(t, env, b2) {
		t.Fatalf("the right code while throttled: %d", resp.StatusCode)
	}
	if n := rowCount(t, env, "audit_events", "action = 'mfa.failure' AND target = ?", f.user.ID); n == 0 {
		t.Error("wrong codes were not audited")
	}
}

func TestRecoveryCodesSignInOnceEach(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	_, codes := enrollTOTPFromAccount(t, env, b)
	auth := authorizeURL(firstID, nil)
	for i, code := range codes[:3] {
		bi := env.Browser(t)
		page := passwordStep(t, env, bi, auth, testEmail)
		// Typed in capitals with spaces, as people read them off paper.
		typed := strings.ToUpper(strings.ReplaceAll(code, "-", " "))
		resp, _ := postFactor(t, env, bi, page, "/login/mfa/recovery", typed)
		claims := f.idClaims(t, servertest.Location(t, resp))
		if !slices.Contains(amrOf(claims), "otp") {
			t.Errorf("code %d: amr %v", i, amrOf(claims))
		}
		again := env.Browser(t)
		page = passwordStep(t, env, again, auth, testEmail)
		resp, p := postFactor(t, env, again, page, "/login/mfa/recovery", code)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(p.Alert(), "already used") {
			t.Errorf("code %d used twice: %d %q", i, resp.StatusCode, p.Alert())
		}
	}
	_, account := env.Get(t, b, "/account")
	if !strings.Contains(account.Body, "7 of 10 recovery codes left") || !strings.Contains(account.Body, "A recovery code was used") {
		t.Errorf("the account page does not tell of the used codes")
	}
	if n := rowCount(t, env, "audit_events", "action = 'mfa.recovery_used' AND target = ?", f.user.ID); n != 3 {
		t.Errorf("%d recovery uses audited, want 3", n)
	}
	// Regenerating (after proving a factor) kills the old set.
	loc := servertest.Location(t, mustGet(t, env, b, authorizeURL(firstID, map[string]string{"acr_values": mfa.ACRMFA})))
	_, page := env.Get(t, b, loc.String())
	resp, _ := postFactor(t, env, b, page, "/login/mfa/recovery", codes[3])
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("recovery sign-in: %d", resp.StatusCode)
	}
	_, account = env.Get(t, b, "/account")
	resp, fresh := env.PostForm(t, b, "/account/security/recovery", url.Values{"csrf_token": {account.CSRF()}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("regenerate: %d", resp.StatusCode)
	}
	newCodes := recoveryCodeRE.FindAllStringSubmatch(fresh.Body, -1)
	if len(newCodes) != 10 {
		t.Fatalf("%d new codes", len(newCodes))
	}
	old := env.Browser(t)
	page = passwordStep(t, env, old, auth, testEmail)
	if resp, _ := postFactor(t, env, old, page, "/login/mfa/recovery", codes[4]); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an old code after regenerating: %d", resp.StatusCode)
	}
	if resp, _ := postFactor(t, env, old, page, "/login/mfa/recovery", newCodes[0][1]); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a new code: %d", resp.StatusCode)
	}
}

func mustGet(t testing.TB, env *servertest.Env, b *http.Client, u string) *http.Response {
	t.Helper()
	resp, _ := env.Get(t, b, u)
	return resp
}

func withMFARoles(roles ...string) servertest.Option {
	return func(c *server.Config) { c.MFARequiredRoles = roles }
}

func TestRolePolicyForcesEnrollmentBeforeAnyCode(t *testing.T) {
	env := servertest.New(t, withMFARoles("admin"))
	f := &fixture{env: env}
	f.admin = env.CreateUser(t, adminMail, testPassword, "admin")
	_, f.firstSecret = env.CreateClient(t, clients.Spec{ID: firstID, Trusted: true, RedirectURIs: []string{testRedirect}})
	b := env.Browser(t)
	resp, _ := env.Get(t, b, authorizeURL(firstID, nil))
	_, login := env.Get(t, b, servertest.Location(t, resp).String())
	resp, _ = env.PostForm(t, b, "/login", url.Values{"csrf_token": {login.CSRF()}, "req": {login.RequestID()},
		"email": {adminMail}, "password": {testPassword}})
	loc := servertest.Location(t, resp)
	if loc.Path != "/login/mfa" {
		t.Fatalf("an admin without a factor went to %s, want the enrollment", loc)
	}
	if n := rowCount(t, env, "auth_codes", ""); n != 0 {
		t.Fatalf("%d codes issued before enrollment", n)
	}
	_, page := env.Get(t, b, loc.String())
	if !strings.Contains(page.Body, `action="/login/mfa/enroll/totp"`) || !strings.Contains(page.Body, "Your role needs") {
		t.Fatalf("not the enrollment page:\n%.1500s", page.Body)
	}
	// The admin side stays shut to the password-only session.
	if resp, _ := env.Get(t, b, "/admin/keys"); servertest.Location(t, resp).Path != "/login/mfa" {
		t.Fatalf("/admin opened to a password-only admin session")
	}
	// prompt=none cannot get past it either.
	resp, _ = env.Get(t, b, authorizeURL(firstID, map[string]string{"prompt": "none"}))
	if got := servertest.Location(t, resp).Query().Get("error"); got != "login_required" {
		t.Errorf("prompt=none: error %q, want login_required", got)
	}

	// Enrolling on the spot counts for this sign-in.
	secret := match1(t, totpSecretRE, page.Body)
	resp, codes := env.PostForm(t, b, "/login/mfa/enroll/totp", url.Values{"csrf_token": {page.CSRF()},
		"req": {page.RequestID()}, "code": {codeAt(t, secret, env.Clock.Now())}})
	if resp.StatusCode != http.StatusOK || len(recoveryCodeRE.FindAllString(codes.Body, -1)) != 10 {
		t.Fatalf("enrollment: %d, want the recovery codes", resp.StatusCode)
	}
	resp, _ = env.PostForm(t, b, "/login/mfa/continue", url.Values{"csrf_token": {codes.CSRF()}, "req": {page.RequestID()}})
	claims := f.idClaims(t, servertest.Location(t, resp))
	if !slices.Contains(amrOf(claims), "mfa") {
		t.Errorf("amr %v after enrollment", amrOf(claims))
	}
	if resp, _ := env.Get(t, b, "/admin/keys"); resp.StatusCode != http.StatusOK {
		t.Errorf("/admin after a second factor: %d", resp.StatusCode)
	}
}

// adminToken mints an admin API token for user as a sign-in by amr
// would have produced it.
func mintAdminToken(t testing.TB, env *servertest.Env, userID string, amr []string) string {
	t.Helper()
	u, err := env.Users.Store().ByID(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.Tokens.Mint(context.Background(), "RS256", &tokens.Grant{ClientID: firstID, UserID: u.ID,
		Scopes: []string{"openid", "idp:admin"}, AuthTime: env.Clock.Now(), AMR: amr,
		ACR: mfa.Assurance(amr).ACR(), JTI: "jti-" + strings.Join(amr, "-"), AccessExpiresAt: env.Clock.Now().Add(5 * time.Minute)}, u)
	if err != nil {
		t.Fatal(err)
	}
	return resp.AccessToken
}

func callAdminAPI(t testing.TB, env *servertest.Env, method, path, token string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestAdminAPINeedsASecondFactorWhenTheRoleDemandsIt(t *testing.T) {
	env := servertest.New(t, withMFARoles("admin"))
	root := env.CreateUser(t, adminMail, testPassword, "admin")
	env.CreateClient(t, clients.Spec{ID: firstID, Trusted: true, RedirectURIs: []string{testRedirect}, Scopes: []string{"openid", "idp:admin"}})
	resp, body := callAdminAPI(t, env, http.MethodGet, "/api/admin/keys", mintAdminToken(t, env, root.ID, []string{"pwd"}))
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != "insufficient_user_authentication" ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `acr_values="`+mfa.ACRMFA+`"`) {
		t.Fatalf("password-only token: %d %v %q", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, _ := callAdminAPI(t, env, http.MethodGet, "/api/admin/keys", mintAdminToken(t, env, root.ID, []string{"pwd", "otp", "mfa"})); resp.StatusCode != http.StatusOK {
		t.Fatalf("token with a second factor: %d", resp.StatusCode)
	}
}

func TestACRValuesStepsUpAPasswordSession(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	// Password only, then an app set up from the account page: the
	// session stays a password session.
	loc := walk(t, env, b, authorizeURL(firstID, nil), testEmail, testPassword).loc
	if claims := f.idClaims(t, loc); claims["acr"] != mfa.ACRPassword || !slices.Equal(amrOf(claims), []string{"pwd"}) {
		t.Fatalf("password sign-in: acr %v amr %v", claims["acr"], amrOf(claims))
	}
	secret, _ := enrollTOTPFromAccount(t, env, b)
	nextStep(env)

	// prompt=none cannot step up.
	resp, _ := env.Get(t, b, authorizeURL(firstID, map[string]string{"acr_values": mfa.ACRMFA, "prompt": "none"}))
	if got := servertest.Location(t, resp).Query().Get("error"); got != "login_required" {
		t.Errorf("prompt=none with acr_values: %q", got)
	}
	resp, _ = env.Get(t, b, authorizeURL(firstID, map[string]string{"acr_values": "urn:unknown " + mfa.ACRMFA}))
	loc = servertest.Location(t, resp)
	if loc.Path != "/login/mfa" {
		t.Fatalf("acr_values on a password session went to %s, want only the second factor", loc)
	}
	_, page := env.Get(t, b, loc.String())
	if strings.Contains(page.Body, `name="password"`) {
		t.Fatal("the step-up asks for the password again")
	}
	resp, _ = postFactor(t, env, b, page, "/login/mfa/totp", codeAt(t, secret, env.Clock.Now()))
	claims := f.idClaims(t, servertest.Location(t, resp))
	if claims["acr"] != mfa.ACRMFA || !slices.Contains(amrOf(claims), "otp") {
		t.Errorf("after step-up: acr %v amr %v", claims["acr"], amrOf(claims))
	}
	// The elevated session satisfies the next request at once.
	resp, _ = env.Get(t, b, authorizeURL(firstID, map[string]string{"acr_values": mfa.ACRMFA}))
	if loc := servertest.Location(t, resp); loc.Query().Get("code") == "" {
		t.Errorf("the elevated session was asked again: %s", loc)
	}
	// phr needs a passkey, and passkeys cannot work under an IP-address
	// issuer: the request goes as far as it can, and acr says how far.
	resp, _ = env.Get(t, b, authorizeURL(firstID, map[string]string{"acr_values": mfa.ACRPhishingResistant + " " + mfa.ACRMFA}))
	claims = f.idClaims(t, servertest.Location(t, resp))
	if claims["acr"] != mfa.ACRMFA {
		t.Errorf("phr under an IP issuer: acr %v, want the mfa it reached", claims["acr"])
	}
}

func TestPhishingResistantNeedsAPasskey(t *testing.T) {
	// A localhost issuer, where passkeys work; the requests go to it by
	// its own URL.
	env := servertest.New(t, localhostIssuer)
	user := env.CreateUser(t, testEmail, testPassword)
	env.CreateClient(t, clients.Spec{ID: firstID, Trusted: true, RedirectURIs: []string{testRedirect}})
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	secret, _ := enrollTOTPFromAccount(t, env, b)
	nextStep(env)
	// The password session with an app: phr asks for the app first (a
	// password alone never adds a factor), then for a new passkey.
	resp, _ := env.Get(t, b, authorizeURL(firstID, map[string]string{"acr_values": mfa.ACRPhishingResistant}))
	loc := servertest.Location(t, resp)
	_, page := env.Get(t, b, loc.String())
	if loc.Path != "/login/mfa" || !strings.Contains(page.Body, `action="/login/mfa/totp"`) || strings.Contains(page.Body, `data-webauthn="create"`) {
		t.Fatalf("phr on a password session: %s\n%.1200s", loc, page.Body)
	}
	resp, _ = postFactor(t, env, b, page, "/login/mfa/totp", codeAt(t, secret, env.Clock.Now()))
	loc = servertest.Location(t, resp)
	_, page = env.Get(t, b, loc.String())
	if loc.Path != "/login/mfa" || !strings.Contains(page.Body, `data-webauthn="create"`) || strings.Contains(page.Body, `action="/login/mfa/totp"`) {
		t.Fatalf("phr after the app: %s, want the passkey enrollment\n%.1200s", loc, page.Body)
	}
	if n := rowCount(t, env, "auth_codes", "user_id = ?", user.ID); n != 0 {
		t.Fatalf("%d codes issued without a passkey", n)
	}
}

func TestClientRequiringMFANeverGetsAPasswordOnlyCode(t *testing.T) {
	f := newFixture(t)
	env := f.env
	env.CreateClient(t, clients.Spec{ID: "strict", Trusted: true, RequireMFA: true, RedirectURIs: []string{testRedirect}})
	email := f.newUser(t)
	b := env.Browser(t)
	res := walk(t, env, b, authorizeURL("strict", nil), email, testPassword)
	if res.loc != nil || !strings.Contains(res.page.Body, `action="/login/mfa/enroll/totp"`) {
		t.Fatalf("password-only sign-in for a --require-mfa client ended at %v", res.loc)
	}
	if n := rowCount(t, env, "auth_codes", "client_id = 'strict'"); n != 0 {
		t.Fatalf("%d codes for the strict client", n)
	}
	resp, _ := env.Get(t, b, authorizeURL("strict", map[string]string{"prompt": "none"}))
	if got := servertest.Location(t, resp).Query().Get("error"); got != "login_required" {
		t.Errorf("prompt=none: %q", got)
	}
	// The same session still serves clients that do not ask.
	if loc := walk(t, env, b, authorizeURL(firstID, nil), email, testPassword).loc; loc == nil || loc.Query().Get("code") == "" {
		t.Errorf("a lax client did not get its code: %v", loc)
	}
}

func TestFactorChangesNeedTheFactor(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	enrollTOTPFromAccount(t, env, b)
	// This session never proved the app: removing it, making new codes or
	// setting up more asks for it first.
	_, account := env.Get(t, b, "/account")
	for _, path := range []string{"/account/security/totp/remove", "/account/security/recovery",
		"/account/security/enroll/totp"} {
		resp, _ := env.PostForm(t, b, path, url.Values{"csrf_token": {account.CSRF()}, "code": {"123456"}})
		if loc := servertest.Location(t, resp); loc.Path != "/login/mfa" || loc.Query().Get("next") != "/account" {
			t.Errorf("%s on a password session: %s", path, loc)
		}
	}
	if resp, _ := env.Get(t, b, "/account/security/totp"); servertest.Location(t, resp).Path != "/login/mfa" {
		t.Error("the app set-up page opened to a password session of a user with a factor")
	}
	if n := rowCount(t, env, "totp_factors", "user_id = ?", f.user.ID); n != 1 {
		t.Errorf("the factor changed: %d rows", n)
	}
}

func TestSecondFactorFormsRefuseBadCSRF(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	secret, codes := enrollTOTPFromAccount(t, env, b)
	nextStep(env)
	b2 := env.Browser(t)
	page := passwordStep(t, env, b2, authorizeURL(firstID, nil), testEmail)
	for _, tc := range []struct{ path, code string }{
		{"/login/mfa/totp", codeAt(t, secret, env.Clock.Now())},
		{"/login/mfa/recovery", codes[0]},
		{"/login/mfa/passkey/options", ""},
		{"/login/mfa/passkey", ""},
		{"/login/passkey/options", ""},
		{"/login/passkey", ""},
		{"/login/mfa/continue", ""},
	} {
		for _, token := range []string{"", "AAAA" + page.CSRF()[4:]} {
			resp, _ := env.PostForm(t, b2, tc.path, url.Values{"csrf_token": {token}, "req": {page.RequestID()}, "code": {tc.code}})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s with csrf %q: %d, want 403", tc.path, token, resp.StatusCode)
			}
		}
	}
	if hasSessionCookie(t, env, b2) || rowCount(t, env, "webauthn_ceremonies", "") != 0 {
		t.Fatal("a refused form changed something")
	}
	// Nothing was spent: the code still works.
	if resp, _ := postFactor(t, env, b2, page, "/login/mfa/totp", codeAt(t, secret, env.Clock.Now())); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right form then gives %d", resp.StatusCode)
	}
}

func TestAdminResetMFA(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	enrollTOTPFromAccount(t, env, b)
	token := mintAdminToken(t, env, f.admin.ID, []string{"pwd"})
	resp, body := callAdminAPI(t, env, http.MethodGet, "/api/admin/users/"+f.user.ID+"/factors", token)
	if resp.StatusCode != http.StatusOK || body["totp"] != true {
		t.Fatalf("factors: %d %v", resp.StatusCode, body)
	}
	resp, body = callAdminAPI(t, env, http.MethodPost, "/api/admin/users/"+f.user.ID+"/reset-mfa", token)
	if resp.StatusCode != http.StatusOK || body["removed"] != true {
		t.Fatalf("reset: %d %v", resp.StatusCode, body)
	}
	for _, table := range []string{"totp_factors", "recovery_codes", "passkeys"} {
		if n := rowCount(t, env, table, "user_id = ?", f.user.ID); n != 0 {
			t.Errorf("%s: %d rows left", table, n)
		}
	}
	if liveSessions(t, env, f.user.ID) != 0 {
		t.Error("the user's sessions outlived the reset")
	}
	if n := rowCount(t, env, "audit_events", "action = 'mfa.reset' AND target = ?", f.user.ID); n != 1 {
		t.Errorf("%d reset events", n)
	}
	if _, body := callAdminAPI(t, env, http.MethodPost, "/api/admin/users/"+f.user.ID+"/reset-mfa", token); body["removed"] != false {
		t.Errorf("second reset: %v", body)
	}
	if resp, _ := callAdminAPI(t, env, http.MethodPost, "/api/admin/users/nobody/reset-mfa", token); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown user: %d", resp.StatusCode)
	}
	// A password is enough again, and the account page says who did it.
	b2 := env.Browser(t)
	signIn(t, env, b2, testEmail, testPassword)
	_, account := env.Get(t, b2, "/account")
	if !strings.Contains(account.Body, "All second factors removed by an administrator ("+adminMail+")") {
		t.Error("the account page does not tell of the reset")
	}
}

func TestDiscoveryListsACRValues(t *testing.T) {
	env := servertest.New(t)
	resp, err := http.Get(env.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		ACR    []string `json:"acr_values_supported"`
		Claims []string `json:"claims_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(doc.ACR, []string{mfa.ACRPassword, mfa.ACRMFA, mfa.ACRPhishingResistant}) ||
		!slices.Contains(doc.Claims, "amr") || !slices.Contains(doc.Claims, "acr") {
		t.Errorf("discovery: acr_values_supported %v, claims_supported %v", doc.ACR, doc.Claims)
	}
}

func TestRefreshKeepsHowTheUserSignedIn(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	secret, _ := enrollTOTPFromAccount(t, env, b)
	nextStep(env)
	b2 := env.Browser(t)
	page := passwordStep(t, env, b2, authorizeURL(firstID, map[string]string{"scope": "openid offline_access"}), testEmail)
	resp, _ := postFactor(t, env, b2, page, "/login/mfa/totp", codeAt(t, secret, env.Clock.Now()))
	r := f.exchange(t, firstID, servertest.Location(t, resp).Query().Get("code"), "")
	if r.str("refresh_token") == "" {
		t.Fatalf("no refresh token: %s", r.raw)
	}
	env.Clock.Advance(time.Minute)
	got := refreshWith(t, env, creds{firstID, f.firstSecret}, r.str("refresh_token"), nil)
	if got.status != http.StatusOK {
		t.Fatalf("refresh: %d %v", got.status, got.body)
	}
	for name, tok := range map[string]string{"ID token": got.str("id_token"), "access token": got.str("access_token")} {
		var claims map[string]any
		decodeJWT(t, tok, &claims)
		if !slices.Equal(amrOf(claims), []string{"pwd", "otp", "mfa"}) || claims["acr"] != mfa.ACRMFA {
			t.Errorf("refreshed %s: amr %v acr %v", name, amrOf(claims), claims["acr"])
		}
	}
}

func TestAdminPagesWarnAnAdminWithoutASecondFactor(t *testing.T) {
	f := newFixture(t)
	env := f.env
	b := env.Browser(t)
	signIn(t, env, b, adminMail, testPassword)
	_, page := env.Get(t, b, "/admin/keys")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `id="no-second-factor"`) {
		t.Fatalf("/admin/keys without a factor: %d, no warning", page.Status)
	}
	enrollTOTPFromAccount(t, env, b)
	if _, page := env.Get(t, b, "/admin/users"); strings.Contains(page.Body, `id="no-second-factor"`) {
		t.Error("the warning stays after the admin set up a factor")
	}
}

// addPasskeyFromAccount registers a passkey of a for the browser's
// signed-in user through the account page's endpoints.
func addPasskeyFromAccount(t *testing.T, env *servertest.Env, b *http.Client, a *mfatest.Authenticator, name string) *http.Response {
	t.Helper()
	_, account := env.Get(t, b, "/account")
	var c struct {
		Handle  string          `json:"handle"`
		Options json.RawMessage `json:"options"`
	}
	resp, page := env.PostForm(t, b, "/account/security/enroll/passkey/options", url.Values{"csrf_token": {account.CSRF()}})
	if resp.StatusCode != http.StatusOK {
		return resp
	}
	if err := json.Unmarshal([]byte(page.Body), &c); err != nil {
		t.Fatalf("options: %v %s", err, page.Body)
	}
	answer, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = env.PostForm(t, b, "/account/security/enroll/passkey", url.Values{"csrf_token": {account.CSRF()},
		"handle": {c.Handle}, "credential": {string(answer)}, "name": {name}})
	return resp
}

func TestPasskeysFromTheAccountPage(t *testing.T) {
	env := servertest.New(t, localhostIssuer)
	user := env.CreateUser(t, testEmail, testPassword)
	f := &fixture{env: env}
	_, f.firstSecret = env.CreateClient(t, clients.Spec{ID: firstID, Trusted: true, RedirectURIs: []string{testRedirect}})
	a := mfatest.New("localhost", env.Config.Issuer)
	b := env.Browser(t)
	signIn(t, env, b, testEmail, testPassword)
	if resp := addPasskeyFromAccount(t, env, b, a, "Phone"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first passkey: %d, want the recovery codes page", resp.StatusCode)
	}
	_, account := env.Get(t, b, "/account")
	if !strings.Contains(account.Body, "Phone") || !strings.Contains(account.Body, "AAGUID adce0002-") ||
		!strings.Contains(account.Body, "Passkey added: Phone") {
		t.Fatalf("account page lacks the passkey or its event")
	}
	// The session did not use the passkey: a second one needs it first
	// (the script's challenge request is refused).
	if resp := addPasskeyFromAccount(t, env, b, a, "Laptop"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a second passkey on a password session: %d", resp.StatusCode)
	}

	// Passwordless sign-in with it, in another browser, through the
	// real endpoints.
	b2 := env.Browser(t)
	resp, _ := env.Get(t, b2, authorizeURL(firstID, nil))
	_, login := env.Get(t, b2, servertest.Location(t, resp).String())
	var c struct {
		Handle  string          `json:"handle"`
		Options json.RawMessage `json:"options"`
	}
	_, opts := env.PostForm(t, b2, "/login/passkey/options", url.Values{"csrf_token": {login.CSRF()}})
	if err := json.Unmarshal([]byte(opts.Body), &c); err != nil {
		t.Fatal(err)
	}
	answer, _ := a.Get(c.Options)
	resp, _ = env.PostForm(t, b2, "/login/passkey", url.Values{"csrf_token": {login.CSRF()}, "req": {login.RequestID()},
		"handle": {c.Handle}, "credential": {string(answer)}})
	claims := f.idClaims(t, servertest.Location(t, resp))
	if claims["sub"] != user.ID || claims["acr"] != mfa.ACRPhishingResistant || !slices.Equal(amrOf(claims), []string{"hwk", "user", "mfa"}) {
		t.Errorf("passwordless: sub %v acr %v amr %v", claims["sub"], claims["acr"], amrOf(claims))
	}

	// That session used the passkey: it may add and remove passkeys.
	if resp := addPasskeyFromAccount(t, env, b2, a, "Laptop"); resp.StatusCode != http.StatusSeeOther ||
		servertest.Location(t, resp).Query().Get("notice") != "factor-added" {
		t.Fatalf("a second passkey on a passkey session: %d %v", resp.StatusCode, resp.Header.Get("Location"))
	}
	fs, _ := env.MFA.Of(context.Background(), user.ID)
	if len(fs.Passkeys) != 2 {
		t.Fatalf("%d passkeys", len(fs.Passkeys))
	}
	_, account = env.Get(t, b2, "/account")
	for _, p := range fs.Passkeys {
		resp, _ := env.PostForm(t, b2, "/account/security/passkeys/remove", url.Values{"csrf_token": {account.CSRF()}, "id": {p.ID}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove: %d", resp.StatusCode)
		}
	}
	if fs, _ := env.MFA.Of(context.Background(), user.ID); fs.Any() || fs.RecoveryTotal != 0 {
		t.Errorf("after removing every passkey: %+v (recovery codes go with the last factor)", fs)
	}
	if n := rowCount(t, env, "audit_events", "action = 'mfa.passkey_removed' AND target = ?", user.ID); n != 2 {
		t.Errorf("%d removals audited", n)
	}
}

// TestPasskeyFailuresAreThrottled: failed passkey sign-ins count toward
// the sign-in throttle: after a few of them a passkey sign-in from that
// address is refused with 429 and Retry-After before it is checked. The
// address's wider budget is not spent yet, so a person signing in with a
// password there still can.
func TestPasskeyFailuresAreThrottled(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, localhostIssuer)
	env.CreateUser(t, testEmail, testPassword)
	b := env.Browser(t)
	throttled := false
	for i := range 40 {
		_, page := env.Get(t, b, "/login")
		resp, p := env.PostForm(t, b, "/login/passkey", url.Values{"csrf_token": {page.CSRF()}, "handle": {"not-a-handle"},
			"credential": {`{"id":"x"}`}})
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Too many failed attempts") {
				t.Fatalf("throttled passkey sign-in without Retry-After or words")
			}
			throttled = true
			break
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bogus passkey %d: %d", i, resp.StatusCode)
		}
	}
	if !throttled {
		t.Fatal("40 failed passkey sign-ins and no throttle")
	}
	_, page := env.Get(t, b, "/login")
	resp, _ := env.PostForm(t, b, "/login", url.Values{"csrf_token": {page.CSRF()}, "email": {testEmail}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a password sign-in from that address: %d", resp.StatusCode)
	}
	var n int64
	if err := env.DB.Gorm.Raw("SELECT failures FROM signin_failures WHERE key LIKE 'ip:%'").Scan(&n).Error; err != nil || n < 5 {
		t.Fatalf("the address's own counter holds %d passkey failures (%v)", n, err)
	}
}
