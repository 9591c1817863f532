package server_test

import (
	"net/http"
	"strings"
	"testing"

	"idp/server/servertest"
)

// uaTransport sends every request with one User-Agent.
type uaTransport struct {
	ua   string
	next http.RoundTripper
}

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

// TestOddUserAgentsAreStored: the user agent is stored with each session
// (and refresh family) cut to its column. A long one cut in the middle of
// a UTF-8 sequence, or one that is not UTF-8 at all, must not make
// PostgreSQL refuse the row and the sign-in fail.
func TestOddUserAgentsAreStored(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	for name, ua := range map[string]string{
		"multibyte cut at the column width": "a" + strings.Repeat("é", 200),
		"not UTF-8":                         "agent\xff\xfe/1.0",
	} {
		b := env.Browser(t)
		b.Transport = uaTransport{ua: ua, next: http.DefaultTransport}
		resp, page := tryLogin(t, env, b, testEmail, testPassword)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: sign-in answered %d: %s", name, resp.StatusCode, page.Alert())
		}
	}
}
