package templates

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// devicePages are the device page's steps, each as a page of the shared
// checks (doctype, one h1, no inline script, CSRF on every form).
func devicePages() []page {
	base := Base{Title: "Title", CSRFToken: "tok-123", Issuer: "https://id.example.com"}
	r := func(s *Set, w *bytes.Buffer, d any) error { return s.Device(w, d.(DevicePage)) }
	full := func(step string) DevicePage {
		return DevicePage{Base: base, Step: step, UserCode: "BCDF-GHJK", Error: "That code is not valid.",
			ClientName: "Living Room TV", ClientID: "tv", UserEmail: "ann@example.com",
			Client: ClientBrand{Logo: "https://cdn.example/tv.png", HomeURI: "https://tv.example", HomeHost: "tv.example"},
			Scopes: []ScopeLine{{"openid", "Know who you are"}, {"email", "See your email address"}}}
	}
	return []page{
		{"device-enter", r, DevicePage{}, full(DeviceEnter), []string{"/device"}},
		{"device-confirm", r, DevicePage{Step: DeviceConfirm}, full(DeviceConfirm), []string{"/device/decide"}},
		{"device-approved", r, DevicePage{Step: DeviceApproved}, full(DeviceApproved), nil},
		{"device-denied", r, DevicePage{Step: DeviceDenied}, full(DeviceDenied), nil},
	}
}

func TestDevicePage(t *testing.T) {
	s := defaultSet(t)
	for _, p := range devicePages() {
		t.Run(p.name, func(t *testing.T) {
			render(t, s, p, p.zero)
			out := render(t, s, p, p.full)
			doc := parse(t, out)
			var actions []string
			for _, f := range findAll(doc, "form") {
				actions = append(actions, attr(f, "action"))
				if attr(f, "method") != "post" {
					t.Errorf("form %s does not post", attr(f, "action"))
				}
				found := false
				for _, in := range findAll(f, "input") {
					found = found || attr(in, "name") == "csrf_token" && attr(in, "type") == "hidden" && attr(in, "value") == "tok-123"
				}
				if !found {
					t.Errorf("form %s lacks the CSRF token", attr(f, "action"))
				}
			}
			if !reflect.DeepEqual(actions, p.actions) {
				t.Errorf("form actions %q, want %q", actions, p.actions)
			}
			switch p.name {
			case "device-enter":
				if !strings.Contains(out, `value="BCDF-GHJK"`) || !strings.Contains(out, "That code is not valid.") {
					t.Error("the code form lacks the prefilled code or the problem")
				}
			case "device-confirm":
				for _, want := range []string{"Living Room TV wants to access your account", "BCDF-GHJK", "See your email address",
					`name="user_code" value="BCDF-GHJK"`, `value="approve"`, `value="deny"`, `src="https://cdn.example/tv.png"`} {
					if !strings.Contains(out, want) {
						t.Errorf("confirmation lacks %q", want)
					}
				}
			case "device-approved":
				if !strings.Contains(out, "Approved — you may close this window") {
					t.Error("approved page lacks its heading")
				}
			}
		})
	}
}

func TestDevicePageHostileInput(t *testing.T) {
	s := defaultSet(t)
	for _, step := range []string{DeviceEnter, DeviceConfirm, DeviceApproved, DeviceDenied} {
		var p DevicePage
		fill(reflect.ValueOf(&p).Elem(), hostile)
		p.Step, p.Client.Logo = step, ""
		out := render(t, s, devicePages()[0], p)
		if strings.Contains(out, hostile) || !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: hostile input not escaped", step)
		}
	}
}
