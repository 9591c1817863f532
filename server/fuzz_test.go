package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"idp/clients"
)

// noRedirects is an HTTP client that reports each redirect instead of
// following it.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// FuzzAuthorizeParams sends arbitrary query strings (and form bodies) to
// /authorize with a signed-in browser: never a 500 (which is also what a
// recovered panic becomes), and a redirect goes only to idp's own pages or
// to the registered redirect_uri — never anywhere a parameter chose.
func FuzzAuthorizeParams(f *testing.F) {
	fx := newFixture(f)
	env := fx.env
	b := env.Browser(f)
	signIn(f, env, b, testEmail, testPassword)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	// What every client of the cast registered; a loopback URI may differ
	// in its port only (RFC 8252 §7.3).
	registered := &clients.Client{RedirectURIs: []string{testRedirect}}
	for _, q := range []string{
		"",
		strings.TrimPrefix(authorizeURL(firstID, nil), "/authorize?"),
		strings.TrimPrefix(authorizeURL(webID, map[string]string{"prompt": "none"}), "/authorize?"),
		strings.TrimPrefix(authorizeURL(spaID, map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}), "/authorize?"),
		strings.TrimPrefix(authorizeURL(firstID, map[string]string{"response_mode": "form_post", "max_age": "0"}), "/authorize?"),
		strings.TrimPrefix(authorizeURL(firstID, map[string]string{"redirect_uri": "https://evil.example/"}), "/authorize?"),
		strings.TrimPrefix(authorizeURL(firstID, map[string]string{"prompt": "none login", "resource": "https://a.example"}), "/authorize?"),
		"client_id=first-party&client_id=web&redirect_uri=http%3A%2F%2F127.0.0.1%3A9555%2Fcallback",
		"client_id=first-party&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcallback&response_type=code&scope=openid",
		"client_id=first-party&redirect_uri=http%3A%2F%2F127.0.0.1%3A9555%2Fcallback&scope=openid&response_type=code&max_age=-0&state=%zz",
		"%00=%00&;&&=&client_id=%ff",
	} {
		f.Add(q, false)
		f.Add(q, true)
	}
	f.Fuzz(func(t *testing.T, query string, post bool) {
		var req *http.Request
		var err error
		if post {
			req, err = http.NewRequest(http.MethodPost, env.URL+"/authorize", strings.NewReader(query))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		} else {
			if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' }) {
				return // not a request-target; net/http refuses it before idp sees it
			}
			req, err = http.NewRequest(http.MethodGet, env.URL+"/authorize", nil)
			if err == nil {
				req.URL.RawQuery = query
			}
		}
		if err != nil {
			return
		}
		resp, err := b.Do(req)
		if err != nil {
			return // the client refused to send it (control characters)
		}
		resp.Body.Close()
		switch s := resp.StatusCode; {
		case s >= 500:
			t.Fatalf("%s %q: status %d", req.Method, query, s)
		case s >= 300 && s < 400:
			loc := resp.Header.Get("Location")
			target, _, _ := strings.Cut(loc, "?")
			if !strings.HasPrefix(loc, "/login?req=") && !strings.HasPrefix(loc, "/consent?req=") &&
				!registered.HasRedirectURI(target) {
				t.Fatalf("%s %q redirected to %q", req.Method, query, loc)
			}
		case s == http.StatusOK || s >= 400:
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("%s %q: status %d with %q", req.Method, query, s, ct)
			}
		}
	})
}

// FuzzTokenForm sends arbitrary bodies, content types and Authorization
// headers to /token: never a 500, always a JSON object, and every refusal
// is {error, error_description} with Cache-Control: no-store.
func FuzzTokenForm(f *testing.F) {
	fx := newFixture(f)
	env := fx.env
	code := fx.code(f, env.Browser(f), firstID, nil)
	form := "application/x-www-form-urlencoded"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(firstID+":"+fx.firstSecret))
	good := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}.Encode()
	f.Add(good, form, basic)
	for _, s := range []struct{ body, ct, auth string }{
		{"", "", ""},
		{"grant_type=authorization_code&code=x&redirect_uri=" + url.QueryEscape(testRedirect), form, basic},
		{"grant_type=authorization_code&code=x&client_id=web&client_secret=nope", form, ""},
		{"grant_type=refresh_token&refresh_token=abc", form, basic},
		{"grant_type=client_credentials&scope=openid&resource=https%3A%2F%2Fa&resource=%zz", form, basic},
		{"grant_type=password&username=a&password=b", form + "; charset=utf-8", basic},
		{"grant_type=authorization_code&grant_type=refresh_token", form, "Basic !!"},
		{`{"grant_type":"authorization_code"}`, "application/json", "Bearer x"},
		{"%zz=%zz&&;;=", "multipart/form-data; boundary=x", "Basic Og=="},
		{"code=" + strings.Repeat("a", 300) + "&grant_type=authorization_code", form, basic},
	} {
		f.Add(s.body, s.ct, s.auth)
	}
	f.Fuzz(func(t *testing.T, body, contentType, auth string) {
		req, err := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := noRedirects().Do(req)
		if err != nil {
			return // the client refused to send it (invalid header value)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("status %d, body not a JSON object: %v", resp.StatusCode, err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d: %v", resp.StatusCode, out)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control %q", cc)
		}
		if resp.StatusCode == http.StatusOK {
			if s, _ := out["access_token"].(string); s == "" {
				t.Fatalf("200 without an access token: %v", out)
			}
			return
		}
		if s, _ := out["error"].(string); s == "" || out["message"] != nil {
			t.Fatalf("status %d, body %v: want {error, error_description}", resp.StatusCode, out)
		}
	})
}

// FuzzAccessTokenHeader feeds VerifyAccessToken a real access token with a
// fuzzed JOSE header, and arbitrary strings: it never panics and accepts
// nothing but the token idp signed.
func FuzzAccessTokenHeader(f *testing.F) {
	fx := newFixture(f)
	env := fx.env
	at := fx.exchange(f, firstID, fx.code(f, env.Browser(f), firstID, nil), "").str("access_token")
	parts := strings.Split(at, ".")
	orig, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr struct{ Kid string }
	_ = json.Unmarshal(orig, &hdr)
	f.Add(string(orig), at)
	for _, h := range []string{
		`{"alg":"none","typ":"at+jwt"}`,
		`{"alg":"none","kid":"` + hdr.Kid + `","typ":"at+jwt"}`,
		`{"alg":"HS256","kid":"` + hdr.Kid + `","typ":"at+jwt"}`,
		`{"alg":"RS256","kid":"` + hdr.Kid + `","typ":"JWT"}`,
		`{"alg":"RS256","kid":"` + hdr.Kid + `","typ":"at+jwt","crit":["exp"]}`,
		`{"alg":"RS256","kid":"` + hdr.Kid + `","typ":"at+jwt","jwk":{"kty":"oct","k":"AAAA"}}`,
		`{"alg":"ES256","kid":["a"],"typ":1}`,
		`{"kid":"` + hdr.Kid + `","kid":"other","alg":"RS256","typ":"at+jwt"}`,
		`[]`, `null`, ``, "\x00",
	} {
		f.Add(h, parts[0]+"."+parts[1]+".")
	}
	f.Add("", at+"."+parts[2])
	f.Add("", strings.Repeat("a.", 4096))
	f.Fuzz(func(t *testing.T, header, raw string) {
		ctx := context.Background()
		tok := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + parts[1] + "." + parts[2]
		if _, err := env.Tokens.VerifyAccessToken(ctx, tok); err == nil && header != string(orig) {
			t.Fatalf("accepted a token whose header was changed to %q", header)
		}
		if _, err := env.Tokens.VerifyAccessToken(ctx, raw); err == nil && !sameJWS(raw, at) {
			t.Fatalf("accepted %q", raw)
		}
	})
}

// sameJWS reports whether two compact JWS decode to the same bytes (base64
// without padding has spare bits, so two spellings can mean one token).
func sameJWS(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 3 || len(pb) != 3 {
		return false
	}
	for i := range pa {
		x, err1 := base64.RawURLEncoding.DecodeString(pa[i])
		y, err2 := base64.RawURLEncoding.DecodeString(pb[i])
		if err1 != nil || err2 != nil || string(x) != string(y) {
			return false
		}
	}
	return true
}
