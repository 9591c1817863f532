package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"idp/admin"
	"idp/clients"
	"idp/mfa/mfatest"
	"idp/server/servertest"
	"idp/users"
)

// console is an admin's browser on the console, and the people it acts on.
type console struct {
	env   *servertest.Env
	b     *http.Client
	admin *users.User
}

func newConsole(t *testing.T) *console {
	t.Helper()
	env := servertest.New(t)
	c := &console{env: env, b: env.Browser(t), admin: env.CreateUser(t, adminEmail, adminPassword, "admin")}
	signInDirect(t, env, c.b, adminEmail, adminPassword)
	return c
}

// page fetches a console page and fails unless it is 200.
func (c *console) page(t *testing.T, path string) *servertest.Page {
	t.Helper()
	_, p := c.env.Get(t, c.b, path)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, p.Status, p.Alert())
	}
	return p
}

// post posts a form with the browser's CSRF token.
func (c *console) post(t *testing.T, path string, form url.Values) (*http.Response, *servertest.Page) {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", c.page(t, "/admin/users").CSRF())
	}
	return c.env.PostForm(t, c.b, path, form)
}

// confirmed posts an action twice, as the console does: first the
// confirmation page (nothing changes), then the confirmed form. It
// returns the notice the redirect carries.
func (c *console) confirmed(t *testing.T, path string, form url.Values, check func()) string {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	resp, conf := c.post(t, path, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(conf.Body, `name="confirm" value="yes"`) {
		t.Fatalf("POST %s: want a confirmation page, got %d %.300s", path, resp.StatusCode, conf.Alert())
	}
	if check != nil {
		check() // nothing changed yet
	}
	form.Set("confirm", "yes")
	resp, _ = c.post(t, path, form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed POST %s: %d", path, resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/admin/users/") {
		t.Fatalf("confirmed POST %s went to %s", path, loc)
	}
	u, _ := url.Parse(loc)
	return u.Query().Get("notice")
}

// events counts the audit events of action about target.
func events(t *testing.T, env *servertest.Env, action, target string) int {
	t.Helper()
	n := 0
	err := env.App.Admin.ExportAudit(context.Background(), admin.AuditQuery{Kind: action, Subject: target}, func(e admin.Event) error {
		if e.Action == action {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func user(t *testing.T, env *servertest.Env, id string) *users.User {
	t.Helper()
	u, err := env.Users.Store().ByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var (
	showingRE = regexp.MustCompile(`id="users-showing">([^<]*)<`)
	userRowRE = regexp.MustCompile(`<a href="/admin/users/[^"]+">([^<]+)</a>`)
)

func rowsOf(p *servertest.Page) []string {
	var out []string
	for _, m := range userRowRE.FindAllStringSubmatch(p.Body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestAdminConsoleSearchAndPaging(t *testing.T) {
	c := newConsole(t)
	env := c.env
	for _, e := range []string{"100%@example.com", "a_b@example.com", "axb@example.com", "Zed@Example.com"} {
		env.CreateUser(t, e, testPassword)
	}
	for i := range 55 {
		env.CreateUser(t, fmt.Sprintf("page%02d@example.net", i), testPassword)
	}
	for _, tc := range []struct{ q, want string }{
		{"%", "100%@example.com"}, {"_", "a_b@example.com"}, {"ZED", "Zed@Example.com"}, {"example.com", ""},
	} {
		p := c.page(t, "/admin/users?q="+url.QueryEscape(tc.q))
		got := strings.Join(rowsOf(p), " ")
		if tc.want != "" && got != tc.want {
			t.Errorf("search %q: %q, want %q", tc.q, got, tc.want)
		}
		if tc.want == "" && len(rowsOf(p)) != 5 { // root@ and the four above
			t.Errorf("search %q: %q", tc.q, got)
		}
	}
	if p := c.page(t, "/admin/users?q=nobody"); !strings.Contains(p.Body, "No user matches this search.") {
		t.Error("an empty search result says nothing")
	}
	// 60 users: pages of 50.
	first := c.page(t, "/admin/users")
	if s := match(showingRE, first.Body); s != "1–50 of 60" || len(rowsOf(first)) != 50 ||
		!strings.Contains(first.Body, `rel="next" href="/admin/users?offset=50"`) || strings.Contains(first.Body, `rel="prev"`) {
		t.Fatalf("first page: %q, %d rows", s, len(rowsOf(first)))
	}
	second := c.page(t, "/admin/users?offset=50")
	if s := match(showingRE, second.Body); s != "51–60 of 60" || len(rowsOf(second)) != 10 ||
		!strings.Contains(second.Body, `rel="prev" href="/admin/users"`) || strings.Contains(second.Body, `rel="next"`) {
		t.Fatalf("second page: %q, %d rows", s, len(rowsOf(second)))
	}
	seen := map[string]bool{}
	for _, e := range append(rowsOf(first), rowsOf(second)...) {
		if seen[e] {
			t.Errorf("%s on both pages", e)
		}
		seen[e] = true
	}
	if len(seen) != 60 {
		t.Errorf("the two pages show %d users, want 60", len(seen))
	}
	paged := c.page(t, "/admin/users?q=page&offset=50")
	if s := match(showingRE, paged.Body); s != "51–55 of 55" || !strings.Contains(paged.Body, `href="/admin/users?offset=0&amp;q=page"`) &&
		!strings.Contains(paged.Body, `href="/admin/users?q=page"`) {
		t.Errorf("last page of a search: %q", s)
	}
	if p := c.page(t, "/admin/users?offset=500"); len(rowsOf(p)) != 0 || !strings.Contains(p.Body, `rel="prev"`) {
		t.Error("past the end: want no rows and a way back")
	}
	if p := c.page(t, "/admin/users?offset=-4&q=ZED"); strings.Join(rowsOf(p), " ") != "Zed@Example.com" {
		t.Error("a negative offset is the first page")
	}
	// Status and second-factor columns.
	zed, _ := env.Users.Store().ByEmail(context.Background(), "zed@example.com")
	for range 8 {
		if _, err := env.App.Throttle.Fail(context.Background(), zed.Email, "192.0.2.5"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.MFA.NewRecoveryCodes(context.Background(), zed.ID); err != nil {
		t.Fatal(err)
	}
	p := c.page(t, "/admin/users?q=zed")
	if !strings.Contains(p.Body, `<span class="badge badge-info">locked</span>`) || !strings.Contains(p.Body, "<td>recovery</td>") {
		t.Errorf("zed's row lacks the locked badge or the factors: %s", p.Body[strings.Index(p.Body, "<tbody>"):])
	}
}

// TestAdminConsoleUserActions drives every action of a user's page, each
// refused without the confirmation, without or with a forged CSRF token,
// for an unknown id, and then done: audited once.
func TestAdminConsoleUserActions(t *testing.T) {
	c := newConsole(t)
	env := c.env
	ctx := context.Background()
	ann := env.CreateUser(t, testEmail, testPassword)
	ub := env.Browser(t)
	ubSession := signInSession(t, env, ub, ann.ID, testEmail, testPassword)
	app := newRPWithScopes(t, env, clients.Spec{ID: "notes", Trusted: true}, []string{"openid", "offline_access"})
	v := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
	tok, err := app.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	base := "/admin/users/" + ann.ID
	acc, _ := env.App.Admin.UserAccess(ctx, admin.UserRef{ID: ann.ID})
	if len(acc.Sessions) != 2 || len(acc.Grants) != 1 {
		t.Fatalf("fixture: %d sessions, %d grants", len(acc.Sessions), len(acc.Grants))
	}
	p := c.page(t, base)
	for _, want := range []string{"<h1>" + testEmail + "</h1>", acc.Sessions[0].ID, acc.Grants[0].ID, "notes", "Not throttled", "No passkeys."} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("user page lacks %q", want)
		}
	}

	// Refusals: missing and forged CSRF, on every action; nothing changes.
	actions := []string{"/profile", "/disable", "/enable", "/password", "/unlock", "/sessions/end", "/grants/revoke", "/sign-out", "/reset-mfa"}
	before := auditTotal(t, env)
	for _, a := range actions {
		for _, tok := range []string{"", "forged-token"} {
			resp, _ := env.PostForm(t, c.b, base+a, url.Values{"csrf_token": {tok}, "confirm": {"yes"}, "id": {acc.Sessions[0].ID},
				"name": {"Mallory"}, "roles": {"admin"}, "password": {"a new long password"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: %d, want 403", a, tok, resp.StatusCode)
			}
		}
		// An unknown id is the 404 page.
		resp, page := c.post(t, "/admin/users/no-such-id"+a, url.Values{"confirm": {"yes"}, "name": {"x"}, "password": {"a new long password"}})
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page.Body, "No such user") {
			t.Errorf("POST unknown%s: %d", a, resp.StatusCode)
		}
	}
	if _, page := env.Get(t, c.b, "/admin/users/no-such-id"); page.Status != http.StatusNotFound || !strings.Contains(page.Body, "No such user") {
		t.Errorf("GET unknown user: %d", page.Status)
	}
	if n := auditTotal(t, env); n != before {
		t.Fatalf("refused actions wrote %d audit events", n-before)
	}
	if u := user(t, env, ann.ID); u.Name != "" || u.Disabled || len(u.Roles) != 0 {
		t.Fatalf("refused actions changed the user: %+v", u)
	}
	if acc, _ := env.App.Admin.UserAccess(ctx, admin.UserRef{ID: ann.ID}); len(acc.Sessions) != 2 || len(acc.Grants) != 1 {
		t.Fatal("refused actions ended access")
	}

	// Profile: invalid roles refused with the reason; valid saved.
	resp, page := c.post(t, base+"/profile", url.Values{"name": {"Ann"}, "roles": {"ops, bad role!"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, `role &#34;bad role!&#34; must be`) {
		t.Errorf("invalid roles: %d", resp.StatusCode)
	}
	if u := user(t, env, ann.ID); u.Name != "" || len(u.Roles) != 0 {
		t.Fatal("an invalid profile was saved")
	}
	resp, _ = c.post(t, base+"/profile", url.Values{"name": {"Ann Example"}, "roles": {"ops, support"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != base+"?notice=user-updated" {
		t.Fatalf("profile: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if u := user(t, env, ann.ID); u.Name != "Ann Example" || strings.Join(u.Roles, ",") != "ops,support" {
		t.Fatalf("profile saved as %+v", u)
	}
	if p := c.page(t, base+"?notice=user-updated"); !strings.Contains(p.Body, "The profile was saved.") {
		t.Error("no notice after saving")
	}

	// Unlock: the page shows the throttle, the button clears it.
	for range 8 {
		if _, err := env.App.Throttle.Fail(ctx, testEmail, "192.0.2.9"); err != nil {
			t.Fatal(err)
		}
	}
	if p := c.page(t, base); !strings.Contains(p.Body, "Failed sign-ins throttle this account until") || !strings.Contains(p.Body, "badge-info") {
		t.Error("the user page does not say the account is throttled")
	}
	if resp, _ := c.post(t, base+"/unlock", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock: %d", resp.StatusCode)
	}
	if l, _ := env.App.Admin.UserLock(ctx, admin.UserRef{ID: ann.ID}); l.Locked || l.Failures != 0 {
		t.Fatalf("after unlock: %+v", l)
	}

	// Password: asked on the confirmation; a weak one refused there.
	resp, conf := c.post(t, base+"/password", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(conf.Body, `name="password" type="password" autocomplete="new-password"`) {
		t.Fatalf("password confirmation: %d", resp.StatusCode)
	}
	resp, conf = c.post(t, base+"/password", url.Values{"confirm": {"yes"}, "password": {"short"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(conf.Body, "Not set: password not accepted: shorter than 8 bytes") || strings.Contains(conf.Body, `value="short"`) {
		t.Fatalf("weak password: %d", resp.StatusCode)
	}
	resp, _ = c.post(t, base+"/password", url.Values{"confirm": {"yes"}, "password": {"a brand new password"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set password: %d", resp.StatusCode)
	}
	if _, err := env.Users.Authenticate(ctx, testEmail, "a brand new password"); err != nil {
		t.Fatalf("the new password does not work: %v", err)
	}

	// End one session: that browser is signed out, the other session stays.
	notice := c.confirmed(t, base+"/sessions/end", url.Values{"id": {ubSession}}, func() {
		if a, _ := env.App.Admin.UserAccess(ctx, admin.UserRef{ID: ann.ID}); len(a.Sessions) != 2 {
			t.Fatal("the session ended before the confirmation")
		}
	})
	if notice != "session-ended" {
		t.Errorf("notice %q", notice)
	}
	if resp, _ := env.Get(t, ub, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the ended session still opens /account: %d", resp.StatusCode)
	}
	if a, _ := env.App.Admin.UserAccess(ctx, admin.UserRef{ID: ann.ID}); len(a.Sessions) != 1 {
		t.Errorf("%d sessions left, want 1", len(a.Sessions))
	}
	if n := c.confirmed(t, base+"/sessions/end", url.Values{"id": {ubSession}}, nil); n != "session-gone" {
		t.Errorf("ending it again: %q", n)
	}

	// Revoke the grant: the refresh token stops working.
	if n := c.confirmed(t, base+"/grants/revoke", url.Values{"id": {acc.Grants[0].ID}}, func() {
		if a, _ := env.App.Admin.UserAccess(ctx, admin.UserRef{ID: ann.ID}); len(a.Grants) != 1 {
			t.Fatal("the grant was revoked before the confirmation")
		}
	}); n != "grant-revoked" {
		t.Errorf("notice %q", n)
	}
	if _, err := app.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the revoked grant's refresh token still works")
	}

	// Reset second factors: set up by the user, removed by the admin.
	signInDirect(t, env, ub, testEmail, "a brand new password")
	enrollTOTPFromAccount(t, env, ub)
	if p := c.page(t, base); !strings.Contains(p.Body, "Authenticator app set up") || !strings.Contains(p.Body, "10 of 10 recovery codes left.") {
		t.Error("the user page does not list the authenticator app and codes")
	}
	if n := c.confirmed(t, base+"/reset-mfa", nil, func() {
		if f, _ := env.App.Admin.UserFactors(ctx, admin.UserRef{ID: ann.ID}); !f.TOTP {
			t.Fatal("reset before the confirmation")
		}
	}); n != "mfa-reset" {
		t.Errorf("notice %q", n)
	}
	if f, _ := env.App.Admin.UserFactors(ctx, admin.UserRef{ID: ann.ID}); f.TOTP || f.RecoveryLeft != 0 {
		t.Errorf("factors after reset: %+v", f)
	}

	// Sign out everywhere.
	signInDirect(t, env, ub, testEmail, "a brand new password")
	if n := c.confirmed(t, base+"/sign-out", nil, nil); n != "signed-out" {
		t.Errorf("notice %q", n)
	}
	if a, _ := env.App.Admin.UserAccess(ctx, admin.UserRef{ID: ann.ID}); len(a.Sessions) != 0 {
		t.Errorf("sessions after sign-out: %d", len(a.Sessions))
	}

	// Disable (confirmed), enable; never oneself.
	signInDirect(t, env, ub, testEmail, "a brand new password")
	if n := c.confirmed(t, base+"/disable", nil, func() {
		if user(t, env, ann.ID).Disabled {
			t.Fatal("disabled before the confirmation")
		}
	}); n != "user-disabled" {
		t.Errorf("notice %q", n)
	}
	if !user(t, env, ann.ID).Disabled {
		t.Fatal("not disabled")
	}
	if resp, _ := env.Get(t, ub, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Error("a disabled user's session still works")
	}
	if resp, _ := c.post(t, base+"/enable", nil); resp.StatusCode != http.StatusSeeOther || user(t, env, ann.ID).Disabled {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	self := "/admin/users/" + c.admin.ID
	if p := c.page(t, self); strings.Contains(p.Body, self+"/disable") {
		t.Error("the admin's own page offers Disable")
	}
	resp, page = c.post(t, self+"/disable", url.Values{"confirm": {"yes"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, "You cannot disable your own account.") || user(t, env, c.admin.ID).Disabled {
		t.Errorf("self-disable: %d", resp.StatusCode)
	}
	resp, _ = c.post(t, "/admin/users/disable", url.Values{"id": {c.admin.ID}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusBadRequest || user(t, env, c.admin.ID).Disabled {
		t.Errorf("self-disable through the list form: %d", resp.StatusCode)
	}

	// Each action audited once, as the admin, through the web.
	for _, tc := range []struct {
		action, target string
		want           int
	}{
		{"user.updated", ann.ID, 1}, {"user.unlocked", ann.ID, 1}, {"user.password_set", ann.ID, 1}, {"session.ended", ann.ID, 1},
		{"family.revoked", acc.Grants[0].ID, 1}, {"mfa.reset", ann.ID, 1}, {"logout.everywhere", ann.ID, 1},
		{"user.disabled", ann.ID, 1}, {"user.enabled", ann.ID, 1}, {"user.disabled", c.admin.ID, 0},
	} {
		if n := events(t, env, tc.action, tc.target); n != tc.want {
			t.Errorf("%s about %s: %d events, want %d", tc.action, tc.target, n, tc.want)
		}
	}
	last, _ := env.App.Admin.AuditEvents(ctx, admin.AuditQuery{Kind: "user.enabled", Limit: 1})
	if e := last.Events[0]; e.Actor != adminEmail || e.Via != "web" {
		t.Errorf("audited as %s via %s", e.Actor, e.Via)
	}
}

// signInSession signs browser b in as email and returns the id of the
// session it got: the one that was not there before.
func signInSession(t *testing.T, env *servertest.Env, b *http.Client, userID, email, password string) string {
	t.Helper()
	ids := func() map[string]bool {
		acc, err := env.App.Admin.UserAccess(context.Background(), admin.UserRef{ID: userID})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, s := range acc.Sessions {
			m[s.ID] = true
		}
		return m
	}
	before := ids()
	signInDirect(t, env, b, email, password)
	for id := range ids() {
		if !before[id] {
			return id
		}
	}
	t.Fatal("the sign-in started no session")
	return ""
}

func auditTotal(t *testing.T, env *servertest.Env) int {
	t.Helper()
	n := 0
	if err := env.App.Admin.ExportAudit(context.Background(), admin.AuditQuery{}, func(admin.Event) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// match returns the first group of re in s.
func match(re *regexp.Regexp, s string) string {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// The console's pages and actions refuse anyone but a signed-in admin.
func TestAdminConsoleRefusesOthers(t *testing.T) {
	env := servertest.New(t)
	u := env.CreateUser(t, testEmail, testPassword)
	anon, plain := env.Browser(t), env.Browser(t)
	signInDirect(t, env, plain, testEmail, testPassword)
	base := "/admin/users/" + u.ID
	routes := []struct{ method, path string }{{"GET", base}, {"GET", "/admin/audit/export"}}
	for _, a := range []string{"/profile", "/disable", "/enable", "/password", "/unlock", "/sessions/end", "/grants/revoke", "/sign-out", "/reset-mfa"} {
		routes = append(routes, struct{ method, path string }{"POST", base + a})
	}
	_, page := env.Get(t, plain, "/account")
	for _, r := range routes {
		form := url.Values{"csrf_token": {page.CSRF()}, "confirm": {"yes"}, "name": {"x"}, "password": {"a new long password"}}
		do := func(b *http.Client) *http.Response {
			req, _ := http.NewRequest(r.method, env.URL+r.path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if resp := do(anon); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("anonymous %s %s: %d", r.method, r.path, resp.StatusCode)
		}
		if resp := do(plain); resp.StatusCode != http.StatusForbidden {
			t.Errorf("non-admin %s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}
	if got := user(t, env, u.ID); got.Name != "" || got.Disabled {
		t.Fatalf("a refused request changed the user: %+v", got)
	}
}

// A user's passkeys are listed on their admin page and in the API with
// name, AAGUID and times, never a key; resetting removes them.
func TestAdminConsoleListsPasskeys(t *testing.T) {
	env := servertest.New(t, localhostIssuer)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	ada := env.CreateUser(t, testEmail, testPassword)
	a := mfatest.New("localhost", env.Config.Issuer)
	ub := env.Browser(t)
	signInDirect(t, env, ub, testEmail, testPassword)
	if resp := addPasskeyFromAccount(t, env, ub, a, "Work phone"); resp.StatusCode != http.StatusOK {
		t.Fatalf("add passkey: %d", resp.StatusCode)
	}
	c := &console{env: env, b: env.Browser(t)}
	signInDirect(t, env, c.b, adminEmail, adminPassword)
	p := c.page(t, "/admin/users/"+ada.ID)
	for _, want := range []string{"Work phone", "adce0002-", "10 of 10 recovery codes left.", ">Reset second factors</button>"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("user page lacks %q", want)
		}
	}
	if p := c.page(t, "/admin/users?q=ada"); !strings.Contains(p.Body, "<td>passkey, recovery</td>") {
		t.Error("the users list does not show the passkey and recovery codes")
	}
	f, err := env.App.Admin.UserFactors(context.Background(), admin.UserRef{ID: ada.ID})
	if err != nil || len(f.PasskeyList) != 1 || f.PasskeyList[0].Name != "Work phone" || !strings.HasPrefix(f.PasskeyList[0].AAGUID, "adce0002-") {
		t.Fatalf("factors view: %+v, %v", f, err)
	}
	if n := c.confirmed(t, "/admin/users/"+ada.ID+"/reset-mfa", nil, nil); n != "mfa-reset" {
		t.Fatalf("reset: %q", n)
	}
	if p := c.page(t, "/admin/users/"+ada.ID); strings.Contains(p.Body, "Work phone") || !strings.Contains(p.Body, "No passkeys.") {
		t.Error("the passkey is still listed after the reset")
	}
}
