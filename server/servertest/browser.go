package servertest

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Page is a fetched HTML page.
type Page struct {
	URL    *url.URL
	Status int
	Body   string
}

var (
	csrfRE  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	reqRE   = regexp.MustCompile(`name="req" value="([^"]*)"`)
	errorRE = regexp.MustCompile(`role="alert"[^>]*>([^<]*)<`)
)

// CSRF returns the page's CSRF form token.
func (p *Page) CSRF() string { return match(csrfRE, p.Body) }

// RequestID returns the page's pending authorization request id.
func (p *Page) RequestID() string { return match(reqRE, p.Body) }

// Alert returns the text of the page's alert region, if any.
func (p *Page) Alert() string { return strings.TrimSpace(match(errorRE, p.Body)) }

func match(re *regexp.Regexp, s string) string {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// Get fetches a URL with the browser and returns the response without
// following redirects.
func (e *Env) Get(t testing.TB, b *http.Client, u string) (*http.Response, *Page) {
	t.Helper()
	resp, err := b.Get(e.abs(u))
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp, readPage(t, resp)
}

// PostForm posts a form with the browser, without following redirects.
func (e *Env) PostForm(t testing.TB, b *http.Client, u string, form url.Values) (*http.Response, *Page) {
	t.Helper()
	resp, err := b.PostForm(e.abs(u), form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	return resp, readPage(t, resp)
}

func (e *Env) abs(u string) string {
	if strings.HasPrefix(u, "/") {
		return e.URL + u
	}
	return u
}

func readPage(t testing.TB, resp *http.Response) *Page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(b)}
}

// Location returns a redirect's target, resolved against the request URL.
func Location(t testing.TB, resp *http.Response) *url.URL {
	t.Helper()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		t.Fatalf("want a redirect, got %d", resp.StatusCode)
	}
	u, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Authorize runs a browser through an authorization request the way a
// person would: it follows idp's own redirects, signs in with email and
// password when the sign-in page appears, allows access on the consent
// page, and returns the final redirect to the client (never followed).
func (e *Env) Authorize(t testing.TB, b *http.Client, authURL, email, password string) *url.URL {
	t.Helper()
	resp, page := e.Get(t, b, authURL)
	for i := 0; i < 6; i++ {
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			t.Fatalf("authorization stopped at %s with %d: %.400s", page.URL, resp.StatusCode, page.Body)
		}
		loc := Location(t, resp)
		if !strings.HasPrefix(loc.String(), e.URL+"/") {
			return loc // the client's redirect_uri
		}
		resp, page = e.Get(t, b, loc.String())
		switch loc.Path {
		case "/login":
			resp, page = e.PostForm(t, b, "/login", url.Values{
				"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "email": {email}, "password": {password},
			})
		case "/consent":
			resp, page = e.PostForm(t, b, "/consent", url.Values{
				"csrf_token": {page.CSRF()}, "req": {page.RequestID()}, "decision": {"allow"},
			})
		}
	}
	t.Fatalf("too many redirects from %s", authURL)
	return nil
}
