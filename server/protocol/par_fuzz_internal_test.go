package protocol

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/oauth"
	"idp/server/plumbing"
)

// FuzzPARForm checks the PAR endpoint's parser (RFC 9126 §2.1): the form
// as tokenForm reads it, parParams, then checkAuthorize, the rules shared
// with /authorize, for a public client. It never panics; every refusal is
// an *oauth.Error a client can read (never a 5xx); what would be stored
// holds no client credentials, no request_uri and nothing repeated but
// resource; and an accepted request has a registered redirect_uri, openid
// and S256 PKCE.
func FuzzPARForm(f *testing.F) {
	const form = "application/x-www-form-urlencoded"
	good := url.Values{"client_id": {"spa"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"},
		"scope": {"openid email"}, "state": {"s"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	f.Add(good.Encode(), form)
	for _, s := range []struct{ body, ct string }{
		{"", form},
		{good.Encode() + "&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax", form},
		{good.Encode() + "&request=e30.e30.", form},
		{good.Encode() + "&scope=openid", form},
		{good.Encode() + "&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example", form},
		{good.Encode() + "&client_secret=x&client_assertion=y&client_assertion_type=z", form + "; charset=utf-8"},
		{"redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid", form},
		{"%zz=%zz&&;;=", form},
		{"state=%00&nonce=%ff", form},
		{`{"response_type":"code"}`, "application/json"},
	} {
		f.Add(s.body, s.ct)
	}
	client := &clients.Client{ID: "spa", Public: true, RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []string{clients.GrantAuthorizationCode}, Scopes: clients.DefaultScopes}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/par", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		c := e.NewContext(r, httptest.NewRecorder())
		fields, err := tokenForm(c)
		if err != nil {
			refusal(t, "tokenForm", err)
			return
		}
		p, oe := parParams(fields)
		if oe != nil {
			if !fields.Has("request_uri") || oe.Code != "invalid_request" {
				t.Fatalf("parParams refused %v with %v", fields, oe)
			}
			return
		}
		for k, v := range p {
			switch {
			case slices.Contains(clientAuthParams, k) || k == "request_uri":
				t.Fatalf("parameter %s would be stored", k)
			case len(v) > 1 && k != "resource":
				t.Fatalf("parameter %s repeated", k)
			case !plumbing.ValidValues(k, v):
				t.Fatalf("parameter %q = %q is not text", k, v)
			}
		}
		req, oe := (&Handlers{}).checkAuthorize(client, p)
		if oe != nil {
			refusal(t, "checkAuthorize", oe)
			return
		}
		if !client.HasRedirectURI(req.RedirectURI) || !slices.Contains(req.Scopes, oauth.ScopeOpenID) ||
			req.CodeChallengeMethod != oauth.PKCES256 || req.CodeChallenge == "" {
			t.Fatalf("accepted %+v from %q", req, body)
		}
	})
}

// refusal fails t unless err is a client error in RFC 6749 §5.2's terms.
func refusal(t *testing.T, what string, err error) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code == "" || oe.Status < 400 || oe.Status >= 500 {
		t.Fatalf("%s: %v is not a client error", what, err)
	}
}
