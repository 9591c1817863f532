package templates

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// resetPages are the steps of the password reset page, each rendered
// through the checks every page passes (render, CSRF, hostile input).
func resetPages() []page {
	base := Base{Title: "Title", CSRFToken: "tok-123", Issuer: "https://id.example.com"}
	r := func(s *Set, w *bytes.Buffer, d any) error { return s.Reset(w, d.(ResetPage)) }
	return []page{
		{"reset ask", r, ResetPage{}, ResetPage{Base: base, Step: ResetAsk, Email: "ann@example.com", Error: "Too many requests."},
			[]string{"/login/forgot"}},
		{"reset sent", r, ResetPage{Step: ResetSent}, ResetPage{Base: base, Step: ResetSent, Minutes: 30}, nil},
		{"reset choose", r, ResetPage{Step: ResetChoose}, ResetPage{Base: base, Step: ResetChoose, Token: "t0k", Error: "The two passwords differ."},
			[]string{"/login/reset"}},
		{"reset invalid", r, ResetPage{Step: ResetInvalid}, ResetPage{Base: base, Step: ResetInvalid}, nil},
		{"reset done", r, ResetPage{Step: ResetDone}, ResetPage{Base: base, Step: ResetDone}, nil},
		{"invite choose", r, ResetPage{Step: ResetChoose, Invite: true}, ResetPage{Base: base, Step: ResetChoose, Token: "t0k", Invite: true, Error: "Too short."},
			[]string{"/login/invite"}},
		{"invite invalid", r, ResetPage{Step: ResetInvalid, Invite: true}, ResetPage{Base: base, Step: ResetInvalid, Invite: true}, nil},
		{"invite done", r, ResetPage{Step: ResetDone, Invite: true}, ResetPage{Base: base, Step: ResetDone, Invite: true}, nil},
	}
}

func TestVerifyPages(t *testing.T) {
	s := defaultSet(t)
	base := Base{Title: "Title", CSRFToken: "tok-123", Issuer: "https://id.example.com"}
	r := func(s *Set, w *bytes.Buffer, d any) error { return s.Verify(w, d.(VerifyPage)) }
	for _, p := range []page{
		{"verify confirm", r, VerifyPage{}, VerifyPage{Base: base, Step: VerifyConfirm, Email: "ann@example.com", Token: "t0k"}, []string{"/login/verify"}},
		{"verify invalid", r, VerifyPage{Step: VerifyInvalid}, VerifyPage{Base: base, Step: VerifyInvalid}, nil},
		{"verify done", r, VerifyPage{Step: VerifyDone}, VerifyPage{Base: base, Step: VerifyDone, Email: "ann@example.com"}, nil},
	} {
		render(t, s, p, p.zero)
		doc := parse(t, render(t, s, p, p.full))
		var actions []string
		for _, f := range findAll(doc, "form") {
			actions = append(actions, attr(f, "action"))
			csrf := false
			for _, in := range findAll(f, "input") {
				csrf = csrf || attr(in, "name") == "csrf_token" && attr(in, "value") == "tok-123"
			}
			if !csrf || attr(f, "method") != "post" {
				t.Errorf("%s: form %s without CSRF or POST", p.name, attr(f, "action"))
			}
		}
		if !reflect.DeepEqual(actions, p.actions) {
			t.Errorf("%s: form actions %q, want %q", p.name, actions, p.actions)
		}
		v := reflect.New(reflect.TypeOf(p.zero)).Elem()
		fill(v, hostile)
		v.FieldByName("Step").SetString(p.full.(VerifyPage).Step)
		if out := render(t, s, p, v.Interface()); strings.Contains(out, hostile) {
			t.Errorf("%s: hostile input came out unescaped", p.name)
		}
	}
}

func TestResetPages(t *testing.T) {
	s := defaultSet(t)
	for _, p := range resetPages() {
		t.Run(p.name, func(t *testing.T) {
			render(t, s, p, p.zero)
			out := render(t, s, p, p.full)
			doc := parse(t, out)
			var actions []string
			for _, f := range findAll(doc, "form") {
				actions = append(actions, attr(f, "action"))
				csrf := false
				for _, in := range findAll(f, "input") {
					csrf = csrf || attr(in, "name") == "csrf_token" && attr(in, "type") == "hidden" && attr(in, "value") == "tok-123"
				}
				if !csrf || attr(f, "method") != "post" {
					t.Errorf("form %s: want method post with the CSRF token", attr(f, "action"))
				}
			}
			if !reflect.DeepEqual(actions, p.actions) {
				t.Errorf("form actions = %q, want %q", actions, p.actions)
			}
			// Hostile text in every field comes out escaped.
			v := reflect.New(reflect.TypeOf(p.zero)).Elem()
			fill(v, hostile)
			v.FieldByName("Step").SetString(p.full.(ResetPage).Step)
			v.FieldByName("Invite").SetBool(p.full.(ResetPage).Invite)
			if out := render(t, s, p, v.Interface()); strings.Contains(out, hostile) {
				t.Error("hostile input came out unescaped")
			}
		})
	}
	out := render(t, s, resetPages()[2], resetPages()[2].full)
	for _, want := range []string{`name="token" value="t0k"`, `autocomplete="new-password"`, "signs you out of every device"} {
		if !strings.Contains(out, want) {
			t.Errorf("choose step lacks %q", want)
		}
	}
	if out := render(t, s, resetPages()[4], resetPages()[4].full); !strings.Contains(out, "signed out everywhere") {
		t.Error("the done page does not say every session ended")
	}
}

func TestLoginOffersResetOnlyWhenMailIsOn(t *testing.T) {
	s := defaultSet(t)
	p := pages()[0]
	if out := render(t, s, p, LoginPage{}); strings.Contains(out, "/login/forgot") || !strings.Contains(out, "Contact your administrator") {
		t.Error("without mail the sign-in page must not offer a reset")
	}
	if out := render(t, s, p, LoginPage{ResetPassword: true}); !strings.Contains(out, `href="/login/forgot"`) ||
		strings.Contains(out, "Contact your administrator") {
		t.Error("with mail the sign-in page must link to /login/forgot")
	}
}
