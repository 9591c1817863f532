package server_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"idp/clients"
	"idp/server/servertest"
)

// TestBrowserConsentShowsClientBrand: in Chromium, the consent page shows
// the client's name, its data: logo (loaded, under the page's CSP) and its
// policy and terms links; the screenshot is docs material
// (IDP_SCREENSHOTS=dir keeps it).
func TestBrowserConsentShowsClientBrand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	b := newBrowser(t)
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	logo := "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 56 56"><rect width="56" height="56" rx="12" fill="#0f766e"/>`+
			`<path d="M16 38V18h6l12 13V18h6v20h-6L22 25v13z" fill="#fff"/></svg>`))
	app := newRelyingParty(t)
	client, secret := env.CreateClient(t, clients.Spec{ID: "acme-notes", Name: "Acme Notes",
		RedirectURIs: []string{app.srv.URL + "/callback"},
		Metadata: clients.Metadata{LogoURI: logo, ClientURI: "https://notes.acme.example/",
			PolicyURI: "https://notes.acme.example/privacy", TOSURI: "https://notes.acme.example/terms"}})
	app.configure(t, env.URL, client.ID, secret)

	b.do("open the app's sign-in link",
		chromedp.Navigate(app.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"] #email`)),
	)
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("email"), testEmail),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/consent"] button[value="allow"]`)),
	)
	if h := b.text("h1"); h != "Acme Notes wants to access your account" {
		t.Errorf("consent heading %q", h)
	}
	width := run(b, "logo loaded", chromedp.Evaluate[int](`document.querySelector("img.client-logo").naturalWidth`))
	if width == 0 {
		t.Errorf("the logo did not load")
	}
	links := run(b, "links", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("main a"), a => a.textContent + " " + a.href)`))
	joined := strings.Join(links, "\n")
	for _, want := range []string{"privacy policy https://notes.acme.example/privacy", "terms of service https://notes.acme.example/terms",
		"notes.acme.example https://notes.acme.example/"} {
		if !strings.Contains(joined, want) {
			t.Errorf("consent links %q lack %q", links, want)
		}
	}
	b.shot("consent-branded")
	for _, e := range b.pageLog() {
		if strings.Contains(e.Text, "Content Security Policy") || strings.Contains(e.Text, "Refused") {
			t.Errorf("page log: %s", e.Text)
		}
	}
}
