package templates

import (
	"bytes"
	"errors"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
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
				Email: "ann@example.com", Error: "Wrong email or password."},
			[]string{"/login"}},
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
				IsAdmin: true, Notice: "Session signed out."},
			[]string{"/account/grants/revoke", "/account/logout-all", "/account/sessions/revoke", "/logout"}},
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
	lower := strings.ToLower(out)
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

// TestEveryFormHasCSRF checks that each form carries csrf_token with the
// page's token and posts.
func TestEveryFormHasCSRF(t *testing.T) {
	s := defaultSet(t)
	for _, p := range pages() {
		t.Run(p.name, func(t *testing.T) {
			doc := parse(t, render(t, s, p, p.full))
			for _, f := range findAll(doc, "form") {
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

// TestInputsAreLabelled checks that every visible input has a <label for>.
func TestInputsAreLabelled(t *testing.T) {
	s := defaultSet(t)
	for _, p := range pages() {
		doc := parse(t, render(t, s, p, p.full))
		labels := map[string]bool{}
		for _, l := range findAll(doc, "label") {
			labels[attr(l, "for")] = true
		}
		for _, in := range findAll(doc, "input") {
			if attr(in, "type") == "hidden" {
				continue
			}
			if id := attr(in, "id"); id == "" || !labels[id] {
				t.Errorf("%s: input %q has no label", p.name, attr(in, "name"))
			}
		}
	}
}

func TestLoginPage(t *testing.T) {
	s := defaultSet(t)
	p := pages()[0]
	zero := render(t, s, p, LoginPage{})
	if !strings.Contains(zero, "Sign in to your account") || strings.Contains(zero, `role="alert"`) {
		t.Error("zero login page: want the generic heading and no alert")
	}
	out := render(t, s, p, p.full)
	for _, want := range []string{
		"Sign in to continue to Acme Notes",
		`<div class="alert alert-error" role="alert" id="login-error">Wrong email or password.</div>`,
		`name="req" value="req-1"`,
		`name="email" type="email" value="ann@example.com" autocomplete="username"`,
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
