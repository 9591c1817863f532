package templates

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/net/html"
)

const hostile = `<script>alert(1)</script>`

// page is one renderable page with zero-value and full data.
type page struct {
	name    string
	render  func(s *Set, w *bytes.Buffer, data any) error
	zero    any
	full    any
	actions []string // the distinct form actions of the full page, sorted
}

func pages() []page {
	base := Base{Title: "Title", CSRFToken: "tok-123", Issuer: "https://id.example.com"}
	return []page{
		{"login", func(s *Set, w *bytes.Buffer, d any) error { return s.Login(w, d.(LoginPage)) },
			LoginPage{}, LoginPage{Base: base, ClientName: "Acme Notes", RequestID: "req-1",
				Email: "ann@example.com", Error: "Wrong email or password.", Passkeys: true},
			[]string{"/login", "/login/passkey"}},
		{"consent", func(s *Set, w *bytes.Buffer, d any) error { return s.Consent(w, d.(ConsentPage)) },
			ConsentPage{}, ConsentPage{Base: base, ClientName: "Acme Notes", ClientID: "acme", RequestID: "req-1",
				UserEmail: "ann@example.com", Scopes: []ScopeLine{{"openid", "Confirm who you are"}, {"email", "See your email address"}}},
			[]string{"/consent"}},
		{"error", func(s *Set, w *bytes.Buffer, d any) error { return s.Error(w, d.(ErrorPage)) },
			ErrorPage{}, ErrorPage{Base: base, Status: 400, Heading: "This sign-in link is not valid",
				Message: "Go back to the app and try again.", RequestID: "r-42"},
			nil},
		{"signedout", func(s *Set, w *bytes.Buffer, d any) error { return s.SignedOut(w, d.(SignedOutPage)) },
			SignedOutPage{}, SignedOutPage{Base: base, ClientName: "Acme Notes"},
			nil},
		{"logout", func(s *Set, w *bytes.Buffer, d any) error { return s.Logout(w, d.(LogoutPage)) },
			LogoutPage{}, LogoutPage{Base: base, ClientName: "Acme Notes",
				Fields: map[string]string{"state": "s1", "client_id": "acme", "post_logout_redirect_uri": "https://acme.example/bye"}},
			[]string{"/logout"}},
		{"account", func(s *Set, w *bytes.Buffer, d any) error { return s.Account(w, d.(AccountPage)) },
			AccountPage{}, AccountPage{Base: base, Email: "ann@example.com", Name: "Ann", Roles: []string{"admin", "user"},
				Sessions: []AccountSession{{ID: "s1", Created: "2 May 2025", LastSeen: "today", IP: "192.0.2.1", UserAgent: "Firefox on Linux", Current: true},
					{ID: "s2", Created: "1 May 2025", LastSeen: "yesterday", IP: "192.0.2.9", UserAgent: "Safari on iPhone"}},
				Grants:  []AccountGrant{{ID: "g1", Client: "Acme Notes", Created: "1 May 2025", LastUsed: "today", IP: "192.0.2.1", UserAgent: "acme-sync/1.0"}},
				IsAdmin: true, Notice: "Session signed out.",
				Passkeys: []AccountPasskey{{ID: "pk1", Name: "Work laptop", AAGUID: "00000000-0000-0000-0000-000000000000",
					Created: "1 May 2025", LastUsed: "today"}, {ID: "pk2", Name: "Phone", Synced: true, Created: "2 May 2025"}},
				TOTP: &AccountTOTP{Confirmed: "1 May 2025"}, RecoveryLeft: 9, RecoveryTotal: 10, HasFactor: true, MFARequired: true, CanAddPasskey: true,
				FactorEvents: []AccountEvent{{At: "1 May 2025 10:00", Text: "Passkey added: Work laptop", Via: "web"}}},
			[]string{"/account/grants/revoke", "/account/logout-all", "/account/password", "/account/security/enroll/passkey",
				"/account/security/passkeys/remove", "/account/security/recovery", "/account/security/totp/remove",
				"/account/sessions/revoke", "/logout"}},
		{"mfa", func(s *Set, w *bytes.Buffer, d any) error { return s.MFA(w, d.(MFAPage)) },
			MFAPage{}, MFAPage{Base: base, Action: "/login/mfa", RequestID: "req-1", ClientName: "Acme Notes",
				Reason: "Acme Notes asks for a second factor.", Error: "That code is not valid.", TOTP: true, Passkey: true,
				Recovery: true, PasskeyEnroll: true, TOTPEnroll: &TOTPEnrollment{Secret: "JBSWY3DPEHPK3PXP",
					URI: "otpauth://totp/id.example.com:ann@example.com?secret=JBSWY3DPEHPK3PXP", QR: "data:image/png;base64,iVBORw0KGgo="},
				CancelURL: "/account"},
			[]string{"/login/mfa/enroll/passkey", "/login/mfa/enroll/totp", "/login/mfa/passkey", "/login/mfa/recovery", "/login/mfa/totp"}},
		{"recovery", func(s *Set, w *bytes.Buffer, d any) error { return s.RecoveryCodes(w, d.(RecoveryCodesPage)) },
			RecoveryCodesPage{}, RecoveryCodesPage{Base: base, Codes: []string{"abcd-efgh-jkmn", "pqrs-tuvw-xyz2"},
				Action: "/login/mfa/continue", RequestID: "req-1"},
			[]string{"/login/mfa/continue"}},
		{"admin_keys", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminKeys(w, d.(AdminKeysPage)) },
			AdminKeysPage{}, fullKeysPage(base),
			[]string{"/admin/keys/revoke", "/admin/keys/rotate"}},
		{"admin_confirm", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminConfirm(w, d.(AdminConfirmPage)) },
			AdminConfirmPage{}, AdminConfirmPage{AdminBase: adminBase(base, "keys"),
				Heading: "Rotate RS256 now?", Message: "The next key has been published for less than 5m0s.",
				Action: "/admin/keys/rotate", Fields: map[string]string{"alg": "RS256"},
				ConfirmLabel: "Rotate anyway", Danger: true, CancelURL: "/admin/keys"},
			[]string{"/admin/keys/rotate"}},
		{"admin_users", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminUsers(w, d.(AdminUsersPage)) },
			AdminUsersPage{}, AdminUsersPage{AdminBase: adminBase(base, "users"), Query: "example", Showing: "51–53 of 53",
				PrevURL: "/admin/users?offset=0&q=example", NextURL: "/admin/users?offset=100&q=example", Users: []AdminUser{
					{ID: "u1", Email: "root@example.com", Name: "Root", Roles: "admin", Created: "1 May 2025", Factors: "passkey, totp"},
					{ID: "u2", Email: "ann@example.com", Name: "Ann", Created: "2 May 2025", Locked: true},
					{ID: "u3", Email: "bob@example.com", Roles: "user", Created: "3 May 2025", Disabled: true}}},
			[]string{"/admin/users"}},
		{"admin_user", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminUserDetail(w, d.(AdminUserPage)) },
			AdminUserPage{}, fullUserPage(base),
			[]string{"/admin/users/u1/disable", "/admin/users/u1/grants/revoke", "/admin/users/u1/password", "/admin/users/u1/profile",
				"/admin/users/u1/reset-mfa", "/admin/users/u1/sessions/end", "/admin/users/u1/sign-out", "/admin/users/u1/unlock"}},
		{"admin_clients", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminClients(w, d.(AdminClientsPage)) },
			AdminClientsPage{}, fullClientsPage(base),
			[]string{"/admin/clients", "/admin/clients/delete", "/admin/clients/registration-tokens"}},
		{"admin_client", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminClient(w, d.(AdminClientPage)) },
			AdminClientPage{}, AdminClientPage{AdminBase: adminBase(base, "clients"), ID: "notes", Name: "Acme <Notes>",
				Type: "confidential", Alg: "ES256", LogoURI: "https://cdn.example/l.png", Contacts: "ops@example.com",
				RedirectURIs: "https://notes.example/cb", ApplicationType: "web", GrantCode: true, NewSecret: "s3cr3t"},
			[]string{"/admin/clients/notes", "/admin/clients/notes/secret"}},
		{"admin_resources", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminResources(w, d.(AdminResourcesPage)) },
			AdminResourcesPage{}, AdminResourcesPage{AdminBase: adminBase(base, "resources"), NewURI: "https://orders.example/api",
				NewSecret: "4Jx9qKcVb2mZtR7wHn3eLpA5sYdF8gUo1iNkQzXyC6v", Form: AdminResourceForm{URI: "urn:<x>", NoSecret: true},
				Resources: []AdminResource{{URI: "https://orders.example/api", Name: "Orders <API>",
					URL: "/admin/resources/https:%2F%2Forders.example%2Fapi", Alg: "ES256", Lifetime: "5 minutes",
					Scopes: "orders:read", Created: "1 May 2025", Introspects: true}, {URI: "urn:example:billing"}}},
			[]string{"/admin/resources"}},
		{"admin_resource", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminResource(w, d.(AdminResourcePage)) },
			AdminResourcePage{}, AdminResourcePage{AdminBase: adminBase(base, "resources"), URI: "https://orders.example/api",
				Name: "Orders <API>", URL: "/admin/resources/https:%2F%2Forders.example%2Fapi", Alg: "RS256", Scopes: "orders:read",
				Lifetime: 300, Introspects: true, NewSecret: "s3cr3t"},
			[]string{"/admin/resources/https:%2F%2Forders.example%2Fapi", "/admin/resources/https:%2F%2Forders.example%2Fapi/delete",
				"/admin/resources/https:%2F%2Forders.example%2Fapi/secret"}},
		{"admin_upstreams", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminUpstreams(w, d.(AdminUpstreamsPage)) },
			AdminUpstreamsPage{}, AdminUpstreamsPage{AdminBase: adminBase(base, "upstreams"),
				Form: AdminUpstreamForm{ID: "new", Name: "New <SSO>", Issuer: "https://sso.new.example", LinkByEmail: true},
				Upstreams: []AdminUpstream{{ID: "corp", Name: "Corp <SSO>", URL: "/admin/upstreams/corp", Kind: "oidc",
					Issuer: "https://sso.corp.example", ClientID: "idp", Scopes: "openid email", Domains: "corp.example",
					RedirectURI: "https://id.example.com/login/upstream/corp/callback", Created: "1 May 2025",
					RolesClaim: "groups", RolesPrefix: "idp-", RequiredGroup: "idp-staff", HasSecret: true, LinkByEmail: true, JIT: true},
					{ID: "plain", URL: "/admin/upstreams/plain", Kind: "oidc"}}},
			[]string{"/admin/upstreams"}},
		{"admin_upstream", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminUpstream(w, d.(AdminUpstreamPage)) },
			AdminUpstreamPage{}, AdminUpstreamPage{AdminBase: adminBase(base, "upstreams"), ID: "corp", URL: "/admin/upstreams/corp",
				Kind: "oidc", RedirectURI: "https://id.example.com/login/upstream/corp/callback", Created: "1 May 2025",
				HasSecret: true, Form: AdminUpstreamForm{Name: "Corp <SSO>", Issuer: "https://sso.corp.example", ClientID: "idp",
					Scopes: "openid email", AllowedDomains: "corp.example", RolesClaim: "groups", JIT: true}},
			[]string{"/admin/upstreams/corp", "/admin/upstreams/corp/delete"}},
		{"admin_audit", func(s *Set, w *bytes.Buffer, d any) error { return s.AdminAudit(w, d.(AdminAuditPage)) },
			AdminAuditPage{}, AdminAuditPage{AdminBase: adminBase(base, "audit"), Actor: "root@example.com", Kind: "key.",
				From: "2025-11-27T09:00:00", OlderURL: "/admin/audit?kind=key.&older=c1", NewerURL: "/admin/audit?kind=key.&newer=c2",
				NewestURL: "/admin/audit?kind=key.", ExportURL: "/admin/audit/export?kind=key.", Events: []AdminAuditEvent{
					{At: "28 Nov 2025 10:02", Actor: "root@example.com", Action: "key.rotate", Target: "RS256", Via: "admin", IP: "192.0.2.1", Detail: "kid=c7a2e1"},
					{At: "28 Nov 2025 09:40", Actor: "root@example.com", Action: "client.create", Target: "notes-web", Via: "admin", IP: "192.0.2.1"}}},
			[]string{"/admin/audit"}},
	}
}

func fullUserPage(base Base) AdminUserPage {
	return AdminUserPage{AdminBase: adminBase(base, "users"), ID: "u1", Email: "ann@example.com", Name: "Ann",
		Roles: "admin, ops", Created: "1 May 2025", Locked: true, LockedUntil: "1 May 2025 10:15 UTC", Failures: 9,
		Sessions: []AdminSession{{ID: "s1", Created: "1 May", LastSeen: "2 May", Expires: "3 May", IP: "192.0.2.1", Agent: "Firefox", Current: true}},
		Grants:   []AdminGrant{{ID: "g1", ClientID: "notes", Created: "1 May", LastUsed: "2 May", IP: "192.0.2.2", Agent: "curl"}},
		Passkeys: []AdminPasskey{{Name: "Work laptop", AAGUID: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", Created: "1 May", Synced: true}},
		TOTP:     true, TOTPConfirmed: "1 May 2025", RecoveryLeft: 9, RecoveryTotal: 10, AuditURL: "/admin/audit?subject=u1"}
}

func adminBase(base Base, section string) AdminBase {
	return AdminBase{Base: base, Section: section, AdminEmail: "root@example.com",
		Notice: "Done.", Error: "Something failed."}
}

// fullKeysPage has two algorithms with retired, active and next bars; the
// revoked key is in the table but not on the timeline.
func fullKeysPage(base Base) AdminKeysPage {
	return AdminKeysPage{
		AdminBase:        adminBase(base, "keys"),
		JWKSMaxAge:       "5m0s",
		RotationInterval: "720h0m0s",
		Timelines: []Timeline{
			{Alg: "RS256", NowX: 750, StartLabel: "30 Aug 2025", NowLabel: "28 Nov 2025", EndLabel: "27 Dec 2025",
				Bars: []TimelineBar{
					{KID: "qt2y0wwTfzRzs8etzhOTBPaDuxCk6cF2euibU858vl8", State: "retired", X: 0, Width: 510, Label: "qt2y0wwT · retired"},
					{KID: "I2wF7gY8k3BTT-XH99r22bluf9uVSxbdPrYUGfWpyyE", State: "active", X: 492, Width: 508, Label: "I2wF7gY8 · active"},
					{KID: "O38uqFjm6g7A-tGQIWFyaWxyfNN-st3POy_tZiEJfbQ", State: "next", X: 742, Width: 258, Label: "O38uqFjm · next"},
				}},
			{Alg: "ES256", NowX: 750, StartLabel: "30 Aug 2025", NowLabel: "28 Nov 2025", EndLabel: "27 Dec 2025",
				Bars: []TimelineBar{
					{KID: "CePl_VUFmFFCBWvz8ieuaFKySHFgvpOW9Yrsy38-IBs", State: "retired", X: 0, Width: 262, Label: "CePl_VUF · retired"},
					{KID: "8Uwsiv6O22rN9JRYtVNCmU2hivqGR-styowatVnV8do", State: "retired", X: 242, Width: 270, Label: "8Uwsiv6O · retired"},
					{KID: "fk0ddAk8pyrBLsuIrAgYzHixAjyqg50ftWgxhgtZajg", State: "active", X: 492, Width: 508, Label: "fk0ddAk8 · active"},
					{KID: "Je7uGwS4XztM1waRd7AE0X0rCaYGi6-wirg3U8ZGK04", State: "next", X: 746, Width: 254, Label: "Je7uGwS4 · next"},
				}},
		},
		Keys: []AdminKey{
			{KID: "O38uqFjm6g7A-tGQIWFyaWxyfNN-st3POy_tZiEJfbQ", Alg: "RS256", State: "next", Created: "28 Nov 2025 09:55", Revocable: true},
			{KID: "I2wF7gY8k3BTT-XH99r22bluf9uVSxbdPrYUGfWpyyE", Alg: "RS256", State: "active", Created: "29 Oct 2025 09:55", Activated: "29 Oct 2025 10:00", Revocable: true},
			{KID: "qt2y0wwTfzRzs8etzhOTBPaDuxCk6cF2euibU858vl8", Alg: "RS256", State: "retired", Created: "29 Sep 2025 09:55", Activated: "29 Sep 2025 10:00", Retired: "29 Oct 2025 10:00", NotAfter: "30 Oct 2025 10:00", Revocable: true},
			{KID: "Je7uGwS4XztM1waRd7AE0X0rCaYGi6-wirg3U8ZGK04", Alg: "ES256", State: "next", Created: "28 Nov 2025 09:55", Revocable: true},
			{KID: "fk0ddAk8pyrBLsuIrAgYzHixAjyqg50ftWgxhgtZajg", Alg: "ES256", State: "active", Created: "29 Oct 2025 09:55", Activated: "29 Oct 2025 10:00", Revocable: true},
			{KID: "8Uwsiv6O22rN9JRYtVNCmU2hivqGR-styowatVnV8do", Alg: "ES256", State: "retired", Created: "29 Sep 2025 09:55", Activated: "29 Sep 2025 10:00", Retired: "29 Oct 2025 10:00", NotAfter: "30 Oct 2025 10:00", Revocable: true},
			{KID: "CePl_VUFmFFCBWvz8ieuaFKySHFgvpOW9Yrsy38-IBs", Alg: "ES256", State: "retired", Created: "30 Aug 2025 09:55", Activated: "30 Aug 2025 10:00", Retired: "29 Sep 2025 10:00", NotAfter: "30 Sep 2025 10:00", Revocable: true},
			{KID: "GhXkAO2EKb9b3RW0jM92vkTMGrBJZ9i0UbXHbrBQj64", Alg: "ES256", State: "revoked", Created: "2 Sep 2025 14:20", Activated: "2 Sep 2025 14:25", Retired: "3 Sep 2025 08:12", NotAfter: "3 Sep 2025 08:12"},
		},
	}
}

func fullClientsPage(base Base) AdminClientsPage {
	return AdminClientsPage{
		AdminBase:   adminBase(base, "clients"),
		NewClientID: "notes-web",
		NewSecret:   "4Jx9qKcVb2mZtR7wHn3eLpA5sYdF8gUo1iNkQzXyC6v",
		Clients: []AdminClient{
			{ID: "notes-web", Name: "Acme Notes", Type: "confidential", Alg: "RS256", Grants: "authorization_code refresh_token",
				Scopes: "openid profile email offline_access", RedirectURIs: "https://notes.example.com/callback", Created: "28 Nov 2025", Trusted: true},
			{ID: "notes-cli", Name: "Notes CLI", Type: "public", Alg: "ES256", Grants: "authorization_code",
				Scopes: "openid email", RedirectURIs: "http://127.0.0.1/callback", Created: "12 Nov 2025"},
			{ID: "billing-sync", Name: "Billing sync", Type: "confidential", Alg: "ES256", Grants: "client_credentials",
				Scopes: "idp:admin", Created: "3 Oct 2025"},
		},
	}
}

func defaultSet(t *testing.T) *Set {
	t.Helper()
	s, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return s
}

// render renders data and checks what every page must satisfy.
func render(t *testing.T, s *Set, p page, data any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := p.render(s, &buf, data); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "<!doctype html>\n<html lang=\"en\">") {
		t.Errorf("%s: does not start with a doctype and <html lang=\"en\">:\n%.200s", p.name, out)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), "</html>") {
		t.Errorf("%s: does not end with </html>", p.name)
	}
	if !strings.Contains(out, `<link rel="stylesheet" href="/static/style.css">`) {
		t.Errorf("%s: does not link /static/style.css", p.name)
	}
	// The one script a page may load is the same-origin passkey ceremony
	// file; nothing inline.
	lower := strings.ToLower(strings.ReplaceAll(out, passkeyScript, ""))
	for _, bad := range []string{"<script", " style=", "<style"} {
		if strings.Contains(lower, bad) {
			t.Errorf("%s: contains %q, which the CSP forbids", p.name, bad)
		}
	}
	if n := strings.Count(out, "<h1"); n != 1 {
		t.Errorf("%s: has %d <h1>, want 1", p.name, n)
	}
	return out
}

// passkeyScript is the script tag of the pages that run passkey ceremonies.
const passkeyScript = `<script src="/static/webauthn.js" defer></script>`

func TestPagesRender(t *testing.T) {
	s := defaultSet(t)
	for _, p := range pages() {
		t.Run(p.name, func(t *testing.T) {
			render(t, s, p, p.zero)
			out := render(t, s, p, p.full)
			if !strings.Contains(out, "https://id.example.com") {
				t.Error("issuer missing from footer")
			}
			doc := parse(t, out)
			var actions []string
			for _, f := range findAll(doc, "form") {
				actions = append(actions, attr(f, "action"))
			}
			actions = slices.Compact(slices.Sorted(slices.Values(actions)))
			if !reflect.DeepEqual(actions, p.actions) {
				t.Errorf("form actions = %q, want %q", actions, p.actions)
			}
		})
	}
}

// TestHostileInput puts a script tag in every string field, including
// slice elements and map keys and values, and expects it escaped.
func TestHostileInput(t *testing.T) {
	s := defaultSet(t)
	for _, p := range pages() {
		t.Run(p.name, func(t *testing.T) {
			v := reflect.New(reflect.TypeOf(p.zero)).Elem()
			fill(v, hostile)
			out := render(t, s, p, v.Interface())
			if strings.Contains(out, hostile) {
				t.Error("hostile input came out unescaped")
			}
			if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Error("escaped hostile input not found in output")
			}
		})
	}
}

// fill sets every string reachable from v to s; nil slices and maps get
// one element so that their rows are rendered too.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int:
		v.SetInt(500)
	case reflect.Float64:
		v.SetFloat(300) // wide enough for a bar to carry its label
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), s)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), s)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf(s), reflect.ValueOf(s))
	}
}

// searchForms are the forms that only read (a search, a filter): they
// GET, so they must not carry the CSRF token, which would land in the URL.
var searchForms = map[string]bool{"/admin/users": true, "/admin/audit": true}

// TestEveryFormHasCSRF checks that each form carries csrf_token with the
// page's token and posts, except the search forms, which get and carry no
// token.
func TestEveryFormHasCSRF(t *testing.T) {
	s := defaultSet(t)
	for _, p := range pages() {
		t.Run(p.name, func(t *testing.T) {
			doc := parse(t, render(t, s, p, p.full))
			for _, f := range findAll(doc, "form") {
				if attr(f, "method") == "get" && searchForms[attr(f, "action")] {
					for _, in := range findAll(f, "input") {
						if attr(in, "name") == "csrf_token" || attr(in, "type") == "password" {
							t.Errorf("search form %s carries %s", attr(f, "action"), attr(in, "name"))
						}
					}
					continue
				}
				if m := attr(f, "method"); m != "post" {
					t.Errorf("form %s: method %q, want post", attr(f, "action"), m)
				}
				found := false
				for _, in := range findAll(f, "input") {
					if attr(in, "name") == "csrf_token" && attr(in, "type") == "hidden" && attr(in, "value") == "tok-123" {
						found = true
					}
				}
				if !found {
					t.Errorf("form %s: no hidden csrf_token input with the token", attr(f, "action"))
				}
			}
		})
	}
}

// TestInputsAreLabelled checks that every visible input, textarea and
// select has a <label for>.
func TestInputsAreLabelled(t *testing.T) {
	s := defaultSet(t)
	for _, p := range pages() {
		doc := parse(t, render(t, s, p, p.full))
		labels := map[string]bool{}
		for _, l := range findAll(doc, "label") {
			labels[attr(l, "for")] = true
		}
		var controls []*html.Node
		for _, tag := range []string{"input", "textarea", "select"} {
			controls = append(controls, findAll(doc, tag)...)
		}
		for _, in := range controls {
			if attr(in, "type") == "hidden" {
				continue
			}
			if id := attr(in, "id"); id == "" || !labels[id] {
				t.Errorf("%s: %s %q has no label", p.name, in.Data, attr(in, "name"))
			}
		}
	}
}

func TestLoginPage(t *testing.T) {
	s := defaultSet(t)
	p := pages()[0]
	zero := render(t, s, p, LoginPage{})
	if !strings.Contains(zero, "Sign in to your account") || strings.Contains(zero, `id="login-error"`) {
		t.Error("zero login page: want the generic heading and no alert")
	}
	out := render(t, s, p, p.full)
	for _, want := range []string{
		"Sign in to continue to Acme Notes",
		`<div class="alert alert-error" role="alert" id="login-error">Wrong email or password.</div>`,
		`name="req" value="req-1"`,
		`name="email" type="email" value="ann@example.com" autocomplete="username webauthn"`,
		`data-webauthn="get" data-conditional data-options="/login/passkey/options"`,
		passkeyScript,
		`name="password" type="password" autocomplete="current-password"`,
		`<button class="button button-primary button-block" type="submit">Sign in</button>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if strings.Index(out, `role="alert"`) > strings.Index(out, "<form") {
		t.Error("the alert must come before the form")
	}
}

func TestConsentPage(t *testing.T) {
	s := defaultSet(t)
	out := render(t, s, pages()[1], pages()[1].full)
	for _, want := range []string{
		"Acme Notes wants to access your account",
		"Signed in as <strong>ann@example.com</strong>",
		"See your email address",
		`name="decision" value="allow">Allow</button>`,
		`name="decision" value="deny">Deny</button>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if !regexp.MustCompile(`button-primary[^>]*value="allow"`).MatchString(out) {
		t.Error("Allow is not the primary button")
	}
	if strings.Index(out, `value="allow"`) > strings.Index(out, `value="deny"`) {
		t.Error("Allow must come first, so Enter submits it")
	}
}

func TestErrorPage(t *testing.T) {
	s := defaultSet(t)
	out := render(t, s, pages()[2], pages()[2].full)
	for _, want := range []string{"Error 400", "This sign-in link is not valid", "Reference: r-42", "<title>Title · idp</title>"} {
		if !strings.Contains(out, want) {
			t.Errorf("error page lacks %q", want)
		}
	}
	zero := render(t, s, pages()[2], ErrorPage{})
	if strings.Contains(zero, "Reference:") || strings.Contains(zero, "Error 0") {
		t.Error("zero error page shows an empty reference or status")
	}
	if !strings.Contains(zero, "<title>Something went wrong · idp</title>") {
		t.Error("zero error page lacks the default title")
	}
}

func TestSignedOutPage(t *testing.T) {
	s := defaultSet(t)
	if out := render(t, s, pages()[3], pages()[3].full); !strings.Contains(out, "You are signed out of Acme Notes.") ||
		!strings.Contains(out, `href="/account">Sign in again</a>`) {
		t.Error("signed-out page lacks the client name or the sign-in link")
	}
	if out := render(t, s, pages()[3], SignedOutPage{}); !strings.Contains(out, "You are signed out.") {
		t.Error("zero signed-out page lacks the plain message")
	}
}

func TestLogoutPageFieldsSorted(t *testing.T) {
	s := defaultSet(t)
	p := pages()[4]
	full := p.full.(LogoutPage)
	full.Fields["csrf_token"] = "forged" // must not override the real token
	full.Fields["decision"] = "logout"   // must not pre-empt the buttons
	doc := parse(t, render(t, s, p, full))
	var names []string
	for _, in := range findAll(doc, "input") {
		names = append(names, attr(in, "name"))
	}
	want := []string{"csrf_token", "client_id", "post_logout_redirect_uri", "state"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("hidden inputs = %q, want %q", names, want)
	}
	var buttons []string
	for _, b := range findAll(doc, "button") {
		buttons = append(buttons, attr(b, "value")+"="+text(b))
	}
	if want := []string{"logout=Sign out", "stay=Stay signed in"}; !reflect.DeepEqual(buttons, want) {
		t.Errorf("buttons = %q, want %q", buttons, want)
	}
}

func TestAccountPage(t *testing.T) {
	s := defaultSet(t)
	out := render(t, s, pages()[5], pages()[5].full)
	for _, want := range []string{
		`<div class="alert alert-success" role="status">Session signed out.</div>`,
		`href="/admin"`,
		`<span class="tag tag-current">this device</span>`,
		`name="id" value="s2"`,
		`name="id" value="g1"`,
		`>Sign out this session</button>`,
		`>Revoke</button>`,
		`>Sign out everywhere</button>`,
		`<input type="hidden" name="decision" value="logout">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if n := strings.Count(out, "this device"); n != 1 {
		t.Errorf("%d sessions marked as this device, want 1", n)
	}
	zero := render(t, s, pages()[5], AccountPage{})
	for _, absent := range []string{`href="/admin"`, `role="status"`, "/account/sessions/revoke", "/account/grants/revoke"} {
		if strings.Contains(zero, absent) {
			t.Errorf("zero account page contains %q", absent)
		}
	}
}

// pageFS copies the embedded files into a MapFS that a test may edit.
func pageFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(embedded, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(embedded, path)
		m[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadNamesMissingFile(t *testing.T) {
	for _, name := range requiredFiles() {
		fsys := pageFS(t)
		delete(fsys, name)
		_, err := Load(fsys)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Load without %s: err = %v, want it named", name, err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load without %s: err = %v, want fs.ErrNotExist", name, err)
		}
	}
}

func TestLoadRejectsBrokenPage(t *testing.T) {
	fsys := pageFS(t)
	fsys["consent.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}x{{end}}{{define "main"}}{{.NoSuchField}}{{end}}{{template "base" .}}`)}
	if _, err := Load(fsys); err == nil || !strings.Contains(err.Error(), "consent") {
		t.Errorf("Load with a broken consent page: err = %v, want it named", err)
	}
	fsys["consent.html"] = &fstest.MapFile{Data: []byte(`{{define "main"}}{{if}}{{end}}`)}
	if _, err := Load(fsys); err == nil || !strings.Contains(err.Error(), "consent") {
		t.Errorf("Load with an unparsable consent page: err = %v, want it named", err)
	}
}

// countingWriter records whether anything was written to it.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func TestExecutionErrorWritesNothing(t *testing.T) {
	fsys := pageFS(t)
	// Valid for the zero value Load checks with, broken once Email is set:
	// the failure comes after the layout has already produced output.
	fsys["login.html"] = &fstest.MapFile{Data: []byte(
		`{{define "title"}}x{{end}}{{define "main"}}<p>before</p>{{if .Email}}{{.Email.Nope}}{{end}}{{end}}{{template "base" .}}`)}
	s, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var w countingWriter
	if err := s.Login(&w, LoginPage{Email: "a@example.com"}); err == nil {
		t.Fatal("Login: want an execution error")
	}
	if w.n != 0 {
		t.Errorf("a failed render wrote %d bytes", w.n)
	}
}

func TestStatic(t *testing.T) {
	css, err := fs.ReadFile(defaultSet(t).Static(), "style.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{":focus-visible", "@media (max-width", "system-ui"} {
		if !bytes.Contains(css, []byte(want)) {
			t.Errorf("style.css lacks %q", want)
		}
	}
	// Self-contained: no imports, fonts or stylesheets from elsewhere.
	if m := regexp.MustCompile(`@import|@font-face|url\(\s*["']?(https?:|//)`).Find(css); m != nil {
		t.Errorf("style.css loads %q from elsewhere", m)
	}
}

func parse(t *testing.T, s string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// findAll returns the elements named tag under n, in document order.
func findAll(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.Data == tag {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

func TestFormPost(t *testing.T) {
	s := defaultSet(t)
	var buf bytes.Buffer
	err := s.FormPost(&buf, FormPostPage{
		Action:      "https://app.example.com/cb?x=1",
		Fields:      map[string]string{"code": hostile, "state": `"><b>`},
		ScriptNonce: "n0nce",
	})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`action="https://app.example.com/cb?x=1"`,
		`name="code" value="&lt;script&gt;alert(1)&lt;/script&gt;"`,
		`<script nonce="n0nce">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("form_post page lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(strings.ToLower(out), "<script") != 1 {
		t.Error("form_post page must have exactly one script")
	}
	buf.Reset()
	if err := s.FormPost(&buf, FormPostPage{Action: "javascript:alert(1)"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `action="javascript:`) {
		t.Error("html/template must neutralise a javascript: action")
	}
}

// adminPages are the entries of pages() that use the admin layout.
func adminPages(t *testing.T) map[string]page {
	t.Helper()
	m := map[string]page{}
	for _, p := range pages() {
		if strings.HasPrefix(p.name, "admin_") {
			m[p.name] = p
		}
	}
	if len(m) != 11 {
		t.Fatalf("%d admin pages, want 11", len(m))
	}
	return m
}

// adminBaseOf returns the AdminBase embedded in an admin page's data.
func adminBaseOf(data any) AdminBase {
	return reflect.ValueOf(data).FieldByName("AdminBase").Interface().(AdminBase)
}

// TestAdminLayout checks the shell every admin page shares: the top bar
// with its navigation (the Section marked with aria-current), the admin's
// email, the link to /account and the Notice and Error regions.
func TestAdminLayout(t *testing.T) {
	s := defaultSet(t)
	for name, p := range adminPages(t) {
		t.Run(name, func(t *testing.T) {
			b := adminBaseOf(p.full)
			doc := parse(t, render(t, s, p, p.full))
			nav := findAll(doc, "nav")
			if len(nav) != 1 {
				t.Fatalf("%d <nav>, want 1", len(nav))
			}
			var hrefs, current []string
			for _, a := range findAll(nav[0], "a") {
				hrefs = append(hrefs, attr(a, "href"))
				if attr(a, "aria-current") == "page" {
					current = append(current, attr(a, "href"))
				}
			}
			if want := []string{"/admin/keys", "/admin/users", "/admin/clients", "/admin/resources", "/admin/upstreams", "/admin/audit"}; !reflect.DeepEqual(hrefs, want) {
				t.Errorf("nav links = %q, want %q", hrefs, want)
			}
			if want := []string{"/admin/" + b.Section}; !reflect.DeepEqual(current, want) {
				t.Errorf("aria-current on %q, want %q", current, want)
			}
			out := render(t, s, p, p.full)
			for _, want := range []string{
				`<body class="admin">`,
				`>idp <span class="wordmark-sub">admin</span>`,
				`<span class="admin-email" title="Signed in as root@example.com">root@example.com</span>`,
				`href="/account"`,
				`<div class="alert alert-success" role="status">Done.</div>`,
				`<div class="alert alert-error" role="alert">Something failed.</div>`,
				"· idp admin</title>",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("lacks %q", want)
				}
			}
			if strings.Index(out, "<h1") > strings.Index(out, `role="status"`) {
				t.Error("the messages must come after the heading")
			}

			zero := render(t, s, p, p.zero)
			for _, absent := range []string{`aria-current`, `role="status"`, `role="alert"`, `class="admin-email"`} {
				if strings.Contains(zero, absent) {
					t.Errorf("zero page contains %q", absent)
				}
			}
			// An unknown section marks nothing.
			v := reflect.New(reflect.TypeOf(p.full)).Elem()
			v.Set(reflect.ValueOf(p.full))
			v.FieldByName("AdminBase").FieldByName("Section").SetString("elsewhere")
			if out := render(t, s, p, v.Interface()); strings.Contains(out, "aria-current") {
				t.Error("an unknown Section marks a nav link")
			}
		})
	}
}

// TestTablesScroll checks that every table sits in a horizontally
// scrolling wrapper that keyboard users can reach and that is named.
func TestTablesScroll(t *testing.T) {
	s := defaultSet(t)
	for name, p := range adminPages(t) {
		doc := parse(t, render(t, s, p, p.full))
		for _, tbl := range findAll(doc, "table") {
			w := tbl.Parent
			if w == nil || w.Data != "div" || attr(w, "class") != "table-wrap" {
				t.Errorf("%s: a table is not directly inside div.table-wrap", name)
				continue
			}
			if attr(w, "tabindex") != "0" || attr(w, "role") != "region" || attr(w, "aria-labelledby") == "" {
				t.Errorf("%s: table wrapper lacks tabindex=0, role=region or aria-labelledby", name)
			}
		}
	}
	css, err := fs.ReadFile(defaultSet(t).Static(), "style.css")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\.table-wrap[^{]*\{[^}]*overflow-x:\s*auto`).Match(css) {
		t.Error("style.css does not give .table-wrap overflow-x: auto")
	}
}

// TestAriaReferences checks that every id named by aria-labelledby or
// aria-describedby exists, and that ids are unique.
func TestAriaReferences(t *testing.T) {
	s := defaultSet(t)
	for _, p := range pages() {
		doc := parse(t, render(t, s, p, p.full))
		ids := map[string]int{}
		for d := range doc.Descendants() {
			if id := attr(d, "id"); d.Type == html.ElementNode && id != "" {
				ids[id]++
			}
		}
		for id, n := range ids {
			if n > 1 {
				t.Errorf("%s: id %q used %d times", p.name, id, n)
			}
		}
		for d := range doc.Descendants() {
			for _, key := range []string{"aria-labelledby", "aria-describedby"} {
				for _, id := range strings.Fields(attr(d, key)) {
					if ids[id] == 0 {
						t.Errorf("%s: %s names missing id %q", p.name, key, id)
					}
				}
			}
		}
	}
}

func TestAdminKeysPage(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_keys"]
	full := p.full.(AdminKeysPage)
	out := render(t, s, p, full)
	doc := parse(t, out)

	svgs := findAll(doc, "svg")
	svgs = slices.DeleteFunc(svgs, func(n *html.Node) bool { return attr(n, "class") != "timeline" })
	if len(svgs) != len(full.Timelines) {
		t.Fatalf("%d timeline SVGs, want %d", len(svgs), len(full.Timelines))
	}
	for i, svg := range svgs {
		tl := full.Timelines[i]
		if want := "0 0 1000 " + itoa(40+28*len(tl.Bars)); attr(svg, "viewBox") != want {
			t.Errorf("%s: viewBox %q, want %q", tl.Alg, attr(svg, "viewBox"), want)
		}
		if attr(svg, "role") != "img" || attr(svg, "aria-labelledby") == "" {
			t.Errorf("%s: svg lacks role=img or aria-labelledby", tl.Alg)
		}
		rects := findAll(svg, "rect")
		if len(rects) != len(tl.Bars) {
			t.Errorf("%s: %d rects, want one per bar (%d)", tl.Alg, len(rects), len(tl.Bars))
		}
		for j, r := range rects {
			b := tl.Bars[j]
			if want := "bar bar-" + b.State; attr(r, "class") != want {
				t.Errorf("%s bar %d: class %q, want %q", tl.Alg, j, attr(r, "class"), want)
			}
			if attr(r, "x") != ftoa(b.X) || attr(r, "width") != ftoa(b.Width) || attr(r, "rx") == "" {
				t.Errorf("%s bar %d: x=%q width=%q rx=%q, want x=%v width=%v, rounded", tl.Alg, j,
					attr(r, "x"), attr(r, "width"), attr(r, "rx"), b.X, b.Width)
			}
			if title := findAll(r.Parent, "title"); len(title) != 1 || text(title[0]) != b.Label {
				t.Errorf("%s bar %d: no <title> %q", tl.Alg, j, b.Label)
			}
		}
		var now []*html.Node
		texts := map[string]bool{}
		for _, l := range findAll(svg, "line") {
			if attr(l, "class") == "now-line" {
				now = append(now, l)
			}
		}
		for _, tx := range findAll(svg, "text") {
			texts[text(tx)] = true
		}
		if len(now) != 1 || attr(now[0], "x1") != ftoa(tl.NowX) || attr(now[0], "x2") != ftoa(tl.NowX) {
			t.Errorf("%s: want one now-line at x=%v", tl.Alg, tl.NowX)
		}
		for _, want := range []string{"now", tl.StartLabel, tl.NowLabel, tl.EndLabel, tl.Bars[0].Label} {
			if !texts[want] {
				t.Errorf("%s: no text %q in the SVG", tl.Alg, want)
			}
		}
	}

	// One rotate form per algorithm, one revoke form per revocable key.
	var rotate, revoke []string
	for _, f := range findAll(doc, "form") {
		fields := map[string]string{}
		for _, in := range findAll(f, "input") {
			fields[attr(in, "name")] = attr(in, "value")
		}
		btn := findAll(f, "button")
		switch attr(f, "action") {
		case "/admin/keys/rotate":
			rotate = append(rotate, fields["alg"])
			if len(btn) != 1 || text(btn[0]) != "Rotate "+fields["alg"] {
				t.Errorf("rotate form for %s: button is not %q", fields["alg"], "Rotate "+fields["alg"])
			}
		case "/admin/keys/revoke":
			revoke = append(revoke, fields["kid"])
			if len(btn) != 1 || text(btn[0]) != "Revoke" || !strings.Contains(attr(btn[0], "class"), "button-danger") {
				t.Errorf("revoke form for %s: want a danger button Revoke", fields["kid"])
			}
		}
	}
	if want := []string{"RS256", "ES256"}; !reflect.DeepEqual(rotate, want) {
		t.Errorf("rotate forms for %q, want %q", rotate, want)
	}
	var wantRevoke []string
	for _, k := range full.Keys {
		if k.Revocable {
			wantRevoke = append(wantRevoke, k.KID)
		}
	}
	if !reflect.DeepEqual(revoke, wantRevoke) {
		t.Errorf("revoke forms for %q, want %q", revoke, wantRevoke)
	}

	for _, want := range []string{
		`<code class="kid" id="key-0">O38uqFjm6g7A-tGQIWFyaWxyfNN-st3POy_tZiEJfbQ</code>`,
		`<span class="badge badge-revoked">revoked</span>`,
		`published at least <strong>5m0s</strong>`,
		`Keys rotate every <strong>720h0m0s</strong>`,
		`<span class="swatch swatch-next"`, `<span class="swatch swatch-active"`, `<span class="swatch swatch-retired"`,
		">Leaves JWKS at</th>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("keys page lacks %q", want)
		}
	}

	zero := render(t, s, p, AdminKeysPage{})
	for _, absent := range []string{"<svg class=\"timeline\"", "/admin/keys/rotate", "/admin/keys/revoke", "published at least"} {
		if strings.Contains(zero, absent) {
			t.Errorf("zero keys page contains %q", absent)
		}
	}
	if !strings.Contains(zero, "No signing keys yet.") {
		t.Error("zero keys page lacks the empty-table message")
	}
	// A timeline without bars still draws its axis and now line.
	out = render(t, s, p, AdminKeysPage{Timelines: []Timeline{{Alg: "ES256", NowX: 500}}})
	if !strings.Contains(out, `viewBox="0 0 1000 40"`) || !strings.Contains(out, `class="now-line" x1="500"`) ||
		!strings.Contains(out, "No keys in this period") {
		t.Error("an empty timeline lacks its 40-unit viewBox, now line or empty message")
	}
}

// TestTimelineHostile puts markup in every label of a timeline and
// expects text, never elements, in the SVG.
func TestTimelineHostile(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_keys"]
	evil := `"><script>alert(1)</script><rect class="x`
	page := AdminKeysPage{Timelines: []Timeline{{Alg: evil, StartLabel: evil, NowLabel: evil, EndLabel: evil, NowX: 10,
		Bars: []TimelineBar{{KID: evil, State: evil, X: 10, Width: 900, Label: evil}, {State: "active", X: 900, Width: 5, Label: evil}}}}}
	out := render(t, s, p, page)
	doc := parse(t, out)
	if n := len(findAll(doc, "script")); n != 0 {
		t.Errorf("%d <script> elements", n)
	}
	svg := findAll(doc, "svg")
	svg = slices.DeleteFunc(svg, func(n *html.Node) bool { return attr(n, "class") != "timeline" })
	if len(svg) != 1 {
		t.Fatalf("%d timelines, want 1", len(svg))
	}
	if n := len(findAll(svg[0], "rect")); n != 2 {
		t.Errorf("%d rects, want 2", n)
	}
	if attr(findAll(svg[0], "rect")[0], "class") != "bar bar-other" {
		t.Error("an unknown state must not make up a class name")
	}
	for _, tl := range findAll(svg[0], "title") {
		if text(tl) != evil {
			t.Errorf("bar title = %q, want the label as text", text(tl))
		}
	}
}

func TestChartLayout(t *testing.T) {
	v := chart(Timeline{NowX: 995, Bars: []TimelineBar{
		{State: "retired", X: -50, Width: 300, Label: "aaaa · retired"},        // clipped at 0, label inside
		{State: "active", X: 400, Width: 60, Label: "bbbb · active"},           // narrow: label to the right
		{State: "next", X: 960, Width: 100, Label: "cccc · next"},              // at the right edge: label to the left
		{State: "bogus", X: math.NaN(), Width: math.Inf(1), Label: "dddd · x"}, // nonsense stays inside the chart
		{State: "next", X: 0, Width: 1000, Label: strings.Repeat("w", 200)},    // no room anywhere: tooltip only
	}})
	if v.Height != 40+28*5 || v.AxisY != v.RowsBottom+2 || v.AxisTextY != v.Height-4 {
		t.Errorf("height %d, axis %d, axis text %d", v.Height, v.AxisY, v.AxisTextY)
	}
	if v.Now != 995 || v.NowAnchor != "end" || v.NowOnAxis {
		t.Errorf("now at %v anchored %q on axis %v, want 995, end, false", v.Now, v.NowAnchor, v.NowOnAxis)
	}
	type want struct {
		x, w       float64
		class      string
		inside     bool
		show       bool
		anchor     string
		labelRight bool
	}
	for i, w := range []want{
		{0, 250, "retired", true, true, "start", false},
		{400, 60, "active", false, true, "start", true},
		{960, 40, "next", false, true, "end", false},
		{0, 1000, "other", true, true, "start", false},
		{0, 1000, "next", false, false, "", false},
	} {
		r := v.Rows[i]
		if r.BarX != w.x || r.BarW != w.w || r.Class != w.class || r.LabelInside != w.inside || r.ShowLabel != w.show || r.LabelAnchor != w.anchor {
			t.Errorf("row %d = x %v w %v %s inside %v show %v anchor %q, want %+v", i,
				r.BarX, r.BarW, r.Class, r.LabelInside, r.ShowLabel, r.LabelAnchor, w)
		}
		if w.labelRight && r.LabelX <= r.BarX+r.BarW {
			t.Errorf("row %d: label at %v, want right of the bar", i, r.LabelX)
		}
		if r.Y != 18+28*i+4 || r.TextY <= r.Y || r.TextY >= r.Y+20 {
			t.Errorf("row %d: y %d text %d", i, r.Y, r.TextY)
		}
	}
	for _, c := range []struct {
		x      float64
		anchor string
		onAxis bool
	}{{5, "start", false}, {500, "middle", true}, {100, "middle", false}, {-20, "start", false}} {
		v := chart(Timeline{NowX: c.x})
		if v.NowAnchor != c.anchor || v.NowOnAxis != c.onAxis || v.Height != 40 {
			t.Errorf("now at %v: anchor %q on axis %v height %d", c.x, v.NowAnchor, v.NowOnAxis, v.Height)
		}
	}
}

func TestAdminConfirmPage(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_confirm"]
	full := p.full.(AdminConfirmPage)
	full.Fields = map[string]string{"kid": "k1", "alg": "RS256", "csrf_token": "forged", "confirm": "no"}
	out := render(t, s, p, full)
	doc := parse(t, out)
	forms := findAll(doc, "form")
	if len(forms) != 1 || attr(forms[0], "action") != "/admin/keys/rotate" {
		t.Fatalf("want one form posting to /admin/keys/rotate")
	}
	var fields []string
	for _, in := range findAll(forms[0], "input") {
		fields = append(fields, attr(in, "name")+"="+attr(in, "value"))
	}
	if want := []string{"csrf_token=tok-123", "alg=RS256", "kid=k1", "confirm=yes"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("inputs = %q, want %q", fields, want)
	}
	for _, want := range []string{
		"<h1>Rotate RS256 now?</h1>",
		"The next key has been published for less than 5m0s.",
		`<button class="button button-danger-solid" type="submit">Rotate anyway</button>`,
		`<a class="button button-secondary" href="/admin/keys">Cancel</a>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("confirm page lacks %q", want)
		}
	}
	full.Danger = false
	if out := render(t, s, p, full); !strings.Contains(out, `<button class="button button-primary" type="submit">Rotate anyway</button>`) {
		t.Error("without Danger the button is not primary")
	}
	zero := render(t, s, p, AdminConfirmPage{})
	for _, want := range []string{"<h1>Are you sure?</h1>", ">Confirm</button>", `href="/admin">Cancel</a>`, `<form class="button-row" method="post">`} {
		if !strings.Contains(zero, want) {
			t.Errorf("zero confirm page lacks %q", want)
		}
	}
	if out := render(t, s, p, AdminConfirmPage{Action: "javascript:alert(1)", CancelURL: "javascript:alert(2)"}); strings.Contains(out, "javascript:") {
		t.Error("a javascript: URL came through")
	}
}

func TestAdminUsersPage(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_users"]
	out := render(t, s, p, p.full)
	doc := parse(t, out)
	var links []string
	for _, a := range findAll(doc, "a") {
		if h := attr(a, "href"); strings.HasPrefix(h, "/admin/users/") {
			links = append(links, h)
		}
	}
	if want := []string{"/admin/users/u1", "/admin/users/u2", "/admin/users/u3"}; !reflect.DeepEqual(links, want) {
		t.Errorf("user links %q, want %q", links, want)
	}
	for _, want := range []string{
		`<span class="badge badge-danger">disabled</span>`,
		`<span class="badge badge-info">locked</span>`,
		`<th scope="col">Second factors</th>`,
		`<td>passkey, totp</td>`,
		`name="q" type="search" value="example"`,
		`rel="prev" href="/admin/users?offset=0&amp;q=example">Previous</a>`,
		`rel="next" href="/admin/users?offset=100&amp;q=example">Next</a>`,
		`51–53 of 53`,
		`name="email" type="email"`,
		`name="password" type="password" autocomplete="new-password"`,
		`name="roles" type="text"`,
		`>Create user</button>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("users page lacks %q", want)
		}
	}
	if strings.Count(out, "badge-info") != 1 {
		t.Error("only the locked user is marked locked")
	}
	zero := render(t, s, p, AdminUsersPage{})
	if !strings.Contains(zero, "No users yet.") || strings.Contains(zero, `rel="next"`) || strings.Contains(zero, `rel="prev"`) {
		t.Error("zero users page: want the empty message and no paging links")
	}
	if out := render(t, s, p, AdminUsersPage{Query: "zz"}); !strings.Contains(out, "No user matches this search.") {
		t.Error("an empty search says nothing matched")
	}
}

func TestAdminUserPage(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_user"]
	full := p.full.(AdminUserPage)
	out := render(t, s, p, full)
	for _, want := range []string{
		"<h1>ann@example.com</h1>", `value="Ann"`, `value="admin, ops"`, "until 1 May 2025 10:15 UTC (9 recent failures)",
		">Unlock</button>", ">Disable</button>", ">Set a password</button>", `name="id" value="s1"`, `name="id" value="g1"`,
		"this browser", ">End all sessions and grants</button>", "Work laptop", "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
		"Authenticator app set up 1 May 2025", "9 of 10 recovery codes left.", ">Reset second factors</button>",
		`href="/admin/audit?subject=u1"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("user page lacks %q", want)
		}
	}
	if strings.Contains(out, "/enable") {
		t.Error("an enabled user has an Enable button")
	}
	full.Disabled, full.Locked, full.Failures = true, false, 0
	out = render(t, s, p, full)
	if !strings.Contains(out, "/admin/users/u1/enable") || strings.Contains(out, "/admin/users/u1/disable") || strings.Contains(out, "/unlock") {
		t.Error("a disabled, unthrottled user: want Enable, no Disable and no Unlock")
	}
	full.Disabled, full.Self = false, true
	if out := render(t, s, p, full); strings.Contains(out, "/disable") {
		t.Error("the admin's own page offers Disable")
	}
	zero := render(t, s, p, AdminUserPage{})
	for _, want := range []string{"No live sessions.", "No offline grants.", "No passkeys.", "No authenticator app.", "No recovery codes."} {
		if !strings.Contains(zero, want) {
			t.Errorf("zero user page lacks %q", want)
		}
	}
	for _, not := range []string{"/sign-out", "/reset-mfa", "/unlock"} {
		if strings.Contains(zero, not) {
			t.Errorf("zero user page offers %s with nothing to act on", not)
		}
	}
}

func TestAdminClientsPage(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_clients"]
	full := p.full.(AdminClientsPage)
	out := render(t, s, p, full)
	doc := parse(t, out)
	for _, want := range []string{
		`Client secret for notes-web — copy it now, it will not be shown again`,
		`<code class="secret">4Jx9qKcVb2mZtR7wHn3eLpA5sYdF8gUo1iNkQzXyC6v</code>`,
		`<span class="badge badge-info">trusted</span>`,
		`<textarea id="client-redirect-uris" name="redirect_uris"`,
		`<textarea id="client-post-logout-uris" name="post_logout_redirect_uris"`,
		`name="public" type="checkbox" value="1"`,
		`name="trusted" type="checkbox" value="1"`,
		`placeholder="openid profile email offline_access"`,
		`>Create client</button>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("clients page lacks %q", want)
		}
	}
	if strings.Index(out, `class="secret"`) > strings.Index(out, "<table") {
		t.Error("the secret box must come before the table")
	}
	var deletes []string
	for _, f := range findAll(doc, "form") {
		if attr(f, "action") != "/admin/clients/delete" {
			continue
		}
		for _, in := range findAll(f, "input") {
			if attr(in, "name") == "id" {
				deletes = append(deletes, attr(in, "value"))
			}
		}
		if b := findAll(f, "button"); len(b) != 1 || text(b[0]) != "Delete" || !strings.Contains(attr(b[0], "class"), "button-danger") {
			t.Error("delete form: want one danger button Delete")
		}
	}
	if want := []string{"notes-web", "notes-cli", "billing-sync"}; !reflect.DeepEqual(deletes, want) {
		t.Errorf("delete forms for %q, want %q", deletes, want)
	}
	var grants []string
	for _, in := range findAll(doc, "input") {
		if attr(in, "name") == "grant_type" {
			_, checked := attrOK(in, "checked")
			grants = append(grants, attr(in, "value")+map[bool]string{true: "+", false: "-"}[checked])
		}
	}
	if want := []string{"authorization_code+", "refresh_token+", "client_credentials-"}; !reflect.DeepEqual(grants, want) {
		t.Errorf("grant_type checkboxes = %q, want %q", grants, want)
	}
	var algs []string
	for _, sel := range findAll(doc, "select") {
		if attr(sel, "name") == "signing_alg" {
			for _, o := range findAll(sel, "option") {
				algs = append(algs, attr(o, "value"))
			}
		}
	}
	if want := []string{"RS256", "ES256"}; !reflect.DeepEqual(algs, want) {
		t.Errorf("signing_alg options = %q, want %q", algs, want)
	}

	full.NewSecret = ""
	if out := render(t, s, p, full); strings.Contains(out, "secret-box") {
		t.Error("the secret box shows without a secret")
	}
	zero := render(t, s, p, AdminClientsPage{})
	if !strings.Contains(zero, "No clients yet.") || strings.Contains(zero, "secret-box") || strings.Contains(zero, "/admin/clients/delete") {
		t.Error("zero clients page: want the empty message, no secret and no delete form")
	}
}

func TestAdminAuditPage(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_audit"]
	full := p.full.(AdminAuditPage)
	out := render(t, s, p, full)
	for _, want := range []string{
		`href="/admin/audit?kind=key.&amp;older=c1">Older events</a>`,
		`href="/admin/audit?kind=key.&amp;newer=c2">Newer events</a>`,
		`href="/admin/audit/export?kind=key." id="audit-export">Export JSON lines</a>`,
		`name="actor" type="text" value="root@example.com"`, `name="kind" type="text" value="key."`,
		`name="from" type="datetime-local" step="1" value="2025-11-27T09:00:00"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	if strings.Index(out, "key.rotate") > strings.Index(out, "client.create") {
		t.Error("events are not in the order given (newest first)")
	}
	full.Events = nil
	if out := render(t, s, p, full); !strings.Contains(out, "No events match this filter.") {
		t.Error("a filter that matched nothing says so")
	}
	zero := render(t, s, p, AdminAuditPage{})
	if !strings.Contains(zero, "No events yet.") || strings.Contains(zero, "Older events") || strings.Contains(zero, "Export") {
		t.Error("zero audit page: want the empty message, no Older link and no export")
	}
}

// TestAdminStyles checks that the stylesheet styles what the admin pages
// use: every class in the rendered pages appears in style.css.
func TestAdminStyles(t *testing.T) {
	s := defaultSet(t)
	css, err := fs.ReadFile(s.Static(), "style.css")
	if err != nil {
		t.Fatal(err)
	}
	unstyled := map[string]bool{"issuer": true, "row": true}
	for name, p := range adminPages(t) {
		doc := parse(t, render(t, s, p, p.full))
		for d := range doc.Descendants() {
			for _, c := range strings.Fields(attr(d, "class")) {
				if !unstyled[c] && !regexp.MustCompile(`\.`+regexp.QuoteMeta(c)+`\b`).Match(css) {
					t.Errorf("%s: class %q is not in style.css", name, c)
				}
			}
		}
	}
	for _, want := range []string{".bar-next", ".bar-active", ".bar-retired", ".now-line", ".button-danger-solid", ".secret-box", ".admin-nav a[aria-current=\"page\"]"} {
		if !bytes.Contains(css, []byte(want)) {
			t.Errorf("style.css lacks %s", want)
		}
	}
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func itoa(i int) string { return strconv.Itoa(i) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// A confirmation that sets a password asks for it in its own form: a
// required new-password field, labelled, and no password anywhere else.
func TestAdminConfirmPassword(t *testing.T) {
	s := defaultSet(t)
	p := adminPages(t)["admin_confirm"]
	full := p.full.(AdminConfirmPage)
	if out := render(t, s, p, full); strings.Contains(out, `type="password"`) {
		t.Error("a confirmation without Password has a password field")
	}
	full.Password = true
	doc := parse(t, render(t, s, p, full))
	forms := findAll(doc, "form")
	if len(forms) != 1 {
		t.Fatalf("%d forms", len(forms))
	}
	var found bool
	for _, in := range findAll(forms[0], "input") {
		if attr(in, "type") == "password" {
			found = attr(in, "name") == "password" && attr(in, "autocomplete") == "new-password" && required(in)
		}
	}
	if !found {
		t.Error("no required new-password field named password in the confirmation form")
	}
}

func required(n *html.Node) bool {
	_, ok := attrOK(n, "required")
	return ok
}
