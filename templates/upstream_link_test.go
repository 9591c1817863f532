package templates

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// linkPages are the upstream link page's steps, as pages of the shared
// checks.
func linkPages() []page {
	base := Base{Title: "Title", CSRFToken: "tok-123", Issuer: "https://id.example.com"}
	r := func(s *Set, w *bytes.Buffer, d any) error { return s.UpstreamLink(w, d.(UpstreamLinkPage)) }
	full := func(step string) UpstreamLinkPage {
		return UpstreamLinkPage{Base: base, Step: step, Upstream: "Corp SSO", Email: "grace@corp.example",
			UserEmail: "grace@example.com", SignInURL: "/login?req=req-1", RequestID: "req-1", Next: "/account",
			Problem: "You signed in to another account.", UpstreamID: "corp", Subject: "sub-1"}
	}
	return []page{
		{"link-signin", r, UpstreamLinkPage{}, full(LinkSignIn), nil},
		{"link-confirm", r, UpstreamLinkPage{Step: LinkConfirm}, full(LinkConfirm), []string{"/login/link"}},
		{"link-refused", r, UpstreamLinkPage{Step: LinkRefused}, full(LinkRefused), []string{"/login/link"}},
		{"link-unlink", r, UpstreamLinkPage{Step: LinkUnlink}, full(LinkUnlink), []string{"/account/upstreams/unlink"}},
	}
}

func TestUpstreamLinkPage(t *testing.T) {
	s := defaultSet(t)
	for _, p := range linkPages() {
		t.Run(p.name, func(t *testing.T) {
			render(t, s, p, p.zero)
			out := render(t, s, p, p.full)
			var actions []string
			for _, f := range findAll(parse(t, out), "form") {
				actions = append(actions, attr(f, "action"))
				found := false
				for _, in := range findAll(f, "input") {
					found = found || attr(in, "name") == "csrf_token" && attr(in, "type") == "hidden" && attr(in, "value") == "tok-123"
				}
				if attr(f, "method") != "post" || !found {
					t.Errorf("form %s does not post with the CSRF token", attr(f, "action"))
				}
			}
			if !reflect.DeepEqual(actions, p.actions) {
				t.Errorf("form actions %q, want %q", actions, p.actions)
			}
			want := map[string][]string{
				"link-signin": {"An account with grace@corp.example already exists here", "Sign in to it to connect your Corp SSO account",
					`href="/login?req=req-1"`},
				"link-confirm": {"Connect your Corp SSO account (grace@corp.example) to this account", "From now on you can sign in with Corp SSO.",
					`value="connect"`, `value="skip"`, `name="req" value="req-1"`, `name="next" value="/account"`},
				"link-refused": {"You signed in to another account.", `value="skip"`},
				"link-unlink":  {`name="upstream" value="corp"`, `name="sub" value="sub-1"`, `name="confirm" value="yes"`},
			}[p.name]
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestUpstreamLinkPageHostileInput(t *testing.T) {
	s := defaultSet(t)
	for _, step := range []string{LinkSignIn, LinkConfirm, LinkRefused, LinkUnlink} {
		var p UpstreamLinkPage
		fill(reflect.ValueOf(&p).Elem(), hostile)
		p.Step, p.SignInURL = step, ""
		out := render(t, s, linkPages()[0], p)
		if strings.Contains(out, hostile) || !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: hostile input not escaped", step)
		}
	}
}

// TestAccountLinks: each link is listed with a Disconnect form, except
// the user's last way to sign in, which says why it stays.
func TestAccountLinks(t *testing.T) {
	s := defaultSet(t)
	p := AccountPage{Base: Base{CSRFToken: "tok-123"}, Links: []AccountLink{
		{UpstreamID: "corp", Subject: "s1", Upstream: "Corp SSO", Email: "grace@corp.example", Created: "1 May 2025", LastUsed: "today"},
		{UpstreamID: "gh", Subject: "s2", Upstream: "GitHub", Created: "2 May 2025", Last: true},
	}}
	out := render(t, s, pages()[5], p)
	for _, w := range []string{"Connected accounts", "Corp SSO", "grace@corp.example", "Connected 1 May 2025", "Last used today",
		`name="upstream" value="corp"`, `name="sub" value="s1"`, "GitHub", "Never used", "only way to sign in"} {
		if !strings.Contains(out, w) {
			t.Errorf("account page lacks %q", w)
		}
	}
	if strings.Contains(out, `value="gh"`) {
		t.Error("the last way to sign in has a Disconnect form")
	}
	if strings.Contains(render(t, s, pages()[5], AccountPage{}), "Connected accounts") {
		t.Error("a user without links sees the section")
	}
}
