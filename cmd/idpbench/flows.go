package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
)

// worker is one virtual client: its own browser (cookie jar), refresh
// chain and recorder. Workers share only the target.
type worker struct {
	t       *target
	rec     *recorder
	nreq    int64        // HTTP requests of the current operation
	api     *http.Client // no cookies: token, userinfo, JWKS
	browser *http.Client // the signed-in browser of sso, refresh, userinfo, mix
	cc      Cred         // client_credentials client
	alg     string       // alg of the first client_credentials or refreshed access token seen
	rnd     *mrand.Rand

	// The refresh chain: prev was exchanged for cur by the last refresh.
	cur, prev string
	chainOK   bool   // the last refresh succeeded, so cur is live
	access    string // newest user access token
	sub       string // its subject
}

// tokenResponse is a token endpoint answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
}

// pkce is one authorization request's secrets.
type pkce struct{ state, nonce, verifier string }

func newPKCE() pkce {
	return pkce{state: rand.Text(), nonce: rand.Text(), verifier: rand.Text() + rand.Text()}
}

// challenge is the S256 code challenge (RFC 7636 §4.2).
func (p pkce) challenge() string {
	sum := sha256.Sum256([]byte(p.verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize runs one authorization request in browser b and returns the
// code from the redirect to the client. When signIn is false the browser
// must already have a live session: a sign-in page is then a failure.
func (w *worker) authorize(b *http.Client, scope string, p pkce, signIn bool) (string, error) {
	cfg := w.t.cfg
	q := url.Values{"response_type": {"code"}, "client_id": {cfg.Client.ID}, "redirect_uri": {cfg.RedirectURI},
		"scope": {scope}, "state": {p.state}, "nonce": {p.nonce},
		"code_challenge": {p.challenge()}, "code_challenge_method": {"S256"}}
	resp, body, err := w.get(b, w.t.endpoints.Authorize+"?"+q.Encode(), "")
	for hop := 0; hop < 6; hop++ {
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
			return "", statusFailure(resp.StatusCode, body)
		}
		loc, perr := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if perr != nil {
			return "", protocolFailure("bad Location: %v", perr)
		}
		if isRedirectURI(loc, cfg.RedirectURI) {
			return callbackCode(loc, p.state, w.t.issuer)
		}
		if !sameOrigin(loc.String(), w.t.issuer) {
			return "", protocolFailure("redirect to a foreign origin %s", loc.Redacted())
		}
		if resp, body, err = w.get(b, loc.String(), ""); err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			continue // idp's own redirect: follow it
		}
		forms := parseForms(body)
		if f := formWith(forms, "password"); f != nil {
			if !signIn {
				return "", protocolFailure("sign-in page shown to a browser with a live session")
			}
			resp, body, err = w.submit(b, loc, f, url.Values{"email": {cfg.User}, "password": {cfg.Password}})
		} else if f := formWith(forms, "req"); f != nil && f.Buttons.Has("decision") {
			resp, body, err = w.submit(b, loc, f, url.Values{"decision": {"allow"}})
		} else {
			return "", protocolFailure("page %s has no sign-in or consent form", loc.Path)
		}
	}
	return "", protocolFailure("more than 6 redirects")
}

// submit posts form f of the page at page with extra fields set.
func (w *worker) submit(b *http.Client, page *url.URL, f *htmlForm, extra url.Values) (*http.Response, []byte, error) {
	action, err := page.Parse(f.Action)
	if err != nil || !sameOrigin(action.String(), w.t.issuer) {
		return nil, nil, protocolFailure("form action %q is not on the issuer", f.Action)
	}
	if f.Hidden.Get("csrf_token") == "" {
		return nil, nil, protocolFailure("form on %s has no csrf_token", page.Path)
	}
	v := url.Values{}
	for k, vals := range f.Hidden {
		v[k] = vals
	}
	for k, vals := range extra {
		v[k] = vals
	}
	return w.postForm(b, action.String(), v, nil)
}

// isRedirectURI reports whether loc is the client's redirect URI plus a query.
func isRedirectURI(loc *url.URL, redirectURI string) bool {
	base := *loc
	base.RawQuery, base.Fragment = "", ""
	r, err := url.Parse(redirectURI)
	if err != nil {
		return false
	}
	r.RawQuery = ""
	return base.String() == r.String()
}

// callbackCode checks an authorization response (RFC 6749 §4.1.2,
// RFC 9207 iss) and returns its code.
func callbackCode(loc *url.URL, state, issuer string) (string, error) {
	q := loc.Query()
	switch {
	case q.Get("error") != "":
		return "", protocolFailure("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	case q.Get("state") != state:
		return "", protocolFailure("state mismatch in the authorization response")
	case q.Get("iss") != issuer:
		return "", protocolFailure("iss %q in the authorization response, want %q", q.Get("iss"), issuer)
	case q.Get("code") == "":
		return "", protocolFailure("no code in the authorization response")
	}
	return q.Get("code"), nil
}

// exchange redeems a code (RFC 6749 §4.1.3) with the PKCE verifier.
func (w *worker) exchange(code string, p pkce) (*tokenResponse, error) {
	cfg := w.t.cfg
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {cfg.RedirectURI}, "code_verifier": {p.verifier}}
	tr, err := w.token(form, &cfg.Client)
	if err != nil {
		return nil, err
	}
	if tr.IDToken == "" {
		return nil, protocolFailure("no id_token for scope openid")
	}
	if w.t.sample() {
		if err := w.verifyUserTokens(tr, p.nonce); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// token posts a token request and checks the common answer.
func (w *worker) token(form url.Values, cred *Cred) (*tokenResponse, error) {
	resp, body, err := w.postForm(w.api, w.t.endpoints.Token, form, cred)
	if err != nil {
		return nil, err
	}
	var tr tokenResponse
	if err := expectJSON(resp, body, &tr); err != nil {
		return nil, err
	}
	if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") {
		return nil, protocolFailure("token answer without a Bearer access_token")
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		return nil, protocolFailure("token answer without Cache-Control: no-store")
	}
	return &tr, nil
}

// verifyUserTokens verifies the access and ID tokens of a user grant.
func (w *worker) verifyUserTokens(tr *tokenResponse, nonce string) error {
	id := w.t.cfg.Client.ID
	if _, err := w.t.ver.verify(tr.AccessToken, accessToken, id, ""); err != nil {
		return err
	}
	w.rec.verified++
	if tr.IDToken == "" {
		return nil
	}
	if _, err := w.t.ver.verify(tr.IDToken, idToken, id, nonce); err != nil {
		return err
	}
	w.rec.verified++
	return nil
}

// signedInGrant runs authorize + exchange in the worker's browser, signing
// in if asked, and keeps the tokens (and, with offline_access, a new chain).
func (w *worker) signedInGrant(scope string, signIn bool) error {
	p := newPKCE()
	code, err := w.authorize(w.browser, scope, p, signIn)
	if err != nil {
		return err
	}
	tr, err := w.exchange(code, p)
	if err != nil {
		return err
	}
	w.access = tr.AccessToken
	if w.sub == "" {
		c, err := w.t.ver.verify(tr.AccessToken, accessToken, w.t.cfg.Client.ID, "")
		if err != nil {
			return err
		}
		w.sub = c.Subject
	}
	if strings.Contains(scope, "offline_access") {
		if tr.RefreshToken == "" {
			return protocolFailure("no refresh_token for offline_access")
		}
		w.cur, w.prev, w.chainOK = tr.RefreshToken, "", true
	}
	return nil
}

// refresh rotates the worker's chain once (RFC 6749 §6), always with the
// newest token.
func (w *worker) refresh() error {
	old := w.cur
	tr, err := w.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, &w.t.cfg.Client)
	if err != nil {
		w.chainOK = false
		return err
	}
	if tr.RefreshToken == "" || tr.RefreshToken == old {
		w.chainOK = false
		return protocolFailure("refresh answer without a new refresh_token")
	}
	if w.t.sample() {
		if err := w.verifyUserTokens(tr, ""); err != nil {
			w.chainOK = false
			return err
		}
	}
	w.prev, w.cur, w.chainOK, w.access = old, tr.RefreshToken, true, tr.AccessToken
	if w.alg == "" {
		w.alg = headerAlg(tr.AccessToken)
	}
	return nil
}

// clientCredentials gets a token for the client itself (RFC 6749 §4.4).
func (w *worker) clientCredentials() error {
	form := url.Values{"grant_type": {"client_credentials"}}
	if s := w.t.cfg.CCScope; s != "" {
		form.Set("scope", s)
	}
	tr, err := w.token(form, &w.cc)
	if err != nil {
		return err
	}
	if tr.RefreshToken != "" || tr.IDToken != "" {
		return protocolFailure("client_credentials answer carries a refresh or ID token")
	}
	if w.alg == "" {
		w.alg = headerAlg(tr.AccessToken)
	}
	if w.t.sample() {
		c, err := w.t.ver.verify(tr.AccessToken, accessToken, w.cc.ID, "")
		if err != nil {
			return err
		}
		if c.Subject != w.cc.ID {
			return &failure{Kind: "verify", Detail: "client_credentials token sub is not the client"}
		}
		w.rec.verified++
	}
	return nil
}

// userinfo calls the UserInfo endpoint (OIDC Core §5.3) with the newest
// access token.
func (w *worker) userinfo() error {
	resp, body, err := w.get(w.api, w.t.endpoints.UserInfo, w.access)
	if err != nil {
		return err
	}
	var info struct {
		Sub string `json:"sub"`
	}
	if err := expectJSON(resp, body, &info); err != nil {
		return err
	}
	if info.Sub != w.sub {
		return &failure{Kind: "verify", Detail: "userinfo sub is not the token's subject"}
	}
	return nil
}

// static GETs a document that should equal want byte for byte; a different
// answer must at least parse as the same kind of document.
func (w *worker) static(u string, want []byte, check func([]byte) error) error {
	resp, body, err := w.get(w.api, u, "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return statusFailure(resp.StatusCode, body)
	}
	if bytes.Equal(body, want) {
		return nil
	}
	return check(body)
}

// checkJWKS accepts a JWKS with at least one public key with kid and alg
// (the set may change under rotation).
func checkJWKS(b []byte) error {
	if _, err := newVerifier("", b, nil); err != nil {
		return &failure{Kind: "verify", Detail: "JWKS: " + err.Error()}
	}
	return nil
}

// checkDiscovery accepts metadata naming issuer.
func checkDiscovery(issuer string) func([]byte) error {
	return func(b []byte) error {
		var d endpoints
		if err := json.Unmarshal(b, &d); err != nil || d.Issuer != issuer {
			return &failure{Kind: "verify", Detail: "discovery document changed or names another issuer"}
		}
		return nil
	}
}
