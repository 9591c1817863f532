package upstreams

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"idp/db"
	"idp/oauth"
	"idp/users"
)

// StateTTL is how long a person has to finish signing in at an upstream.
const StateTTL = 10 * time.Minute

// Start is a sign-in just begun at an upstream.
type Start struct {
	// URL is the upstream's authorization request to send the browser to.
	URL string
	// State must come back with the browser: the caller binds it to the
	// browser (a cookie) and hands it to Finish with the response.
	State string
}

// Begin starts a sign-in at upstream id for the pending authorization
// request requestID (may be empty) and idp page next (may be empty): an
// authorization request with PKCE S256 (RFC 7636), state and, for oidc,
// nonce (OIDC Core §3.1.2.1), whose verifier and nonce stay in idp's
// database under the state's hash. Plain OAuth 2.0 upstreams get the same
// request without nonce (RFC 6749 §4.1.1).
func (s *Service) Begin(ctx context.Context, id, requestID, next string) (*Start, error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.provider(ctx, u)
	if err != nil {
		return nil, err
	}
	state, nonce, verifier := oauth.NewSecret(32), oauth.NewSecret(32), oauth.NewSecret(32)
	pend := &pending{UpstreamID: u.ID, Nonce: nonce, Verifier: verifier, RequestID: requestID, Next: next,
		ExpiresAt: s.cfg.Now().Add(StateTTL)}
	if err := s.store.saveState(ctx, oauth.HashSecret(state), pend); err != nil {
		return nil, err
	}
	auth, err := url.Parse(p.authURL)
	if err != nil {
		return nil, fmt.Errorf("%w: authorization_endpoint: %w", ErrUnavailable, err)
	}
	q := auth.Query() // keep whatever query the endpoint carries (RFC 6749 §3.1)
	q.Set("response_type", "code")
	q.Set("client_id", u.ClientID)
	q.Set("redirect_uri", s.RedirectURI(u.ID))
	q.Set("scope", strings.Join(u.Scopes, " "))
	q.Set("state", state)
	if u.Kind == KindOIDC {
		q.Set("nonce", nonce) // plain OAuth 2.0 has no ID token to carry it back
		askOffline(q, u, p)
	}
	q.Set("code_challenge", oauth.S256Challenge(verifier))
	q.Set("code_challenge_method", "S256")
	auth.RawQuery = q.Encode()
	return &Start{URL: auth.String(), State: state}, nil
}

// googleIssuer is Google's issuer, exactly as its discovery names it.
const googleIssuer = "https://accounts.google.com"

// askOffline asks oidc upstream u (discovered as p) for a refresh token,
// when its scopes ask for offline_access: without one idp could not ask
// the upstream again at refresh. OIDC Core §11: offline_access is ignored
// unless prompt contains consent. Google ignores offline_access
// altogether and issues a refresh token only for access_type=offline, and
// only at a sign-in that shows the consent screen (prompt=consent), so it
// gets those in place of the scope.
func askOffline(q url.Values, u *Upstream, p *provider) {
	if !slices.Contains(u.Scopes, oauth.ScopeOfflineAccess) {
		return
	}
	q.Set("prompt", "consent")
	if p.issuer == googleIssuer {
		q.Set("access_type", "offline")
		scopes := slices.DeleteFunc(slices.Clone(u.Scopes), func(sc string) bool { return sc == oauth.ScopeOfflineAccess })
		q.Set("scope", strings.Join(scopes, " "))
	}
}

// Result is a finished sign-in: the idp user, and where the browser was
// going before it left for the upstream.
type Result struct {
	Upstream *Upstream
	// Subject is the upstream account's sub: with the upstream's id, the
	// key of its link.
	Subject   string
	User      *users.User
	RequestID string
	Next      string
	// Created and Linked say what this sign-in did, for the audit log.
	Created, Linked bool
	// AMR are the methods the upstream says it used (Identity.AMR), to
	// carry beside fed in idp's own amr.
	AMR []string
}

// Finish checks the authorization response q that came back to upstream
// id's callback, in a browser that holds browserState, exchanges the code,
// verifies the ID token and finds (or links, or creates) the idp user.
// The state is spent whatever the outcome, so a response works once.
func (s *Service) Finish(ctx context.Context, id string, q url.Values, browserState string) (*Result, error) {
	state := q.Get("state")
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(browserState)) != 1 {
		return nil, fmt.Errorf("%w: state missing or not this browser's", ErrForged)
	}
	pend, err := s.store.takeState(ctx, oauth.HashSecret(state), s.cfg.Now())
	if errors.Is(err, db.ErrNotFound) || (err == nil && pend.UpstreamID != id) {
		return nil, fmt.Errorf("%w: unknown, used or expired state", ErrForged)
	}
	if err != nil {
		return nil, err
	}
	res := &Result{RequestID: pend.RequestID, Next: pend.Next}
	if res.Upstream, err = s.store.ByID(ctx, id); err != nil {
		return res, err
	}
	ident, tok, err := s.identify(ctx, res.Upstream, q, pend)
	if err != nil {
		return res, err
	}
	res.AMR = ident.AMR
	if err := s.resolve(ctx, res, ident); err != nil {
		return res, err
	}
	// Only now is there a link to keep it on: what the upstream gave to
	// ask it again at each refresh of the families this sign-in leads to.
	if err := s.keepGrant(ctx, res.Upstream, ident.Subject, tok); err != nil {
		return res, err
	}
	return res, nil
}

// identify checks the response and returns the verified upstream identity.
func (s *Service) identify(ctx context.Context, u *Upstream, q url.Values, pend *pending) (*Identity, *tokenResponse, error) {
	p, err := s.provider(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	// RFC 9207 §2.4: an iss that is sent must be the upstream's; one that
	// is promised must be sent. This stops a mix-up with another upstream.
	// A plain OAuth 2.0 upstream has no issuer to compare; its own
	// callback path is what keeps its responses apart from the others'.
	if u.Kind == KindOIDC {
		if iss, sent := q["iss"]; sent && (len(iss) != 1 || iss[0] != u.Issuer) {
			return nil, nil, fmt.Errorf("%w: iss %q in the authorization response is not %q", ErrForged, q.Get("iss"), u.Issuer)
		} else if !sent && p.issParam {
			return nil, nil, fmt.Errorf("%w: iss missing from the authorization response", ErrForged)
		}
	}
	if e := q.Get("error"); e != "" {
		return nil, nil, fmt.Errorf("%w: %s: %.200s", ErrDenied, e, q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		return nil, nil, fmt.Errorf("%w: no code in the authorization response", ErrUnavailable)
	}
	tok, err := s.exchange(ctx, u, p, code, pend.Verifier)
	if err != nil {
		return nil, nil, err
	}
	var ident *Identity
	switch u.Kind {
	case KindOAuth2:
		ident, err = s.oauth2Identity(ctx, u, p, tok)
		return ident, tok, err
	case KindGitHub:
		ident, err = s.githubIdentity(ctx, u, p, tok)
		return ident, tok, err
	}
	if tok.IDToken == "" {
		return nil, nil, fmt.Errorf("%w: no id_token in the token response", ErrUnavailable)
	}
	claims, err := p.verifier.VerifyIDToken(ctx, tok.IDToken, pend.Nonce)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrForged, err)
	}
	if ident, err = u.Claims.identity(u.Kind, claims.Raw); err != nil {
		// The ID token was verified, so its sub is there; only a mapping
		// to a claim it lacks ends here.
		return nil, nil, err
	}
	return ident, tok, nil
}

// tokenResponse is the part of RFC 6749 §5.1 (and OIDC Core §3.1.3.3)
// idp reads.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// Scope is what was granted, when the upstream says (nil: it did
	// not, so what was asked; RFC 6749 §5.1).
	Scope   *string `json:"scope"`
	IDToken string  `json:"id_token"`
	// RefreshToken and ExpiresIn are kept (sealed) to ask the upstream
	// again at each idp refresh (refresh.go).
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Error        string `json:"error"`
	Desc         string `json:"error_description"`
}

// exchange redeems code at the upstream's token endpoint (RFC 6749 §4.1.3)
// with the PKCE verifier, authenticating with client_secret_basic (or
// client_secret_post where the upstream documents only that) when idp
// has a secret there. An error answer is refused even with status 200,
// which is how GitHub reports a bad code.
func (s *Service) exchange(ctx context.Context, u *Upstream, p *provider, code, verifier string) (*tokenResponse, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {s.RedirectURI(u.ID)}, "code_verifier": {verifier}}
	return s.postToken(ctx, u, p, form)
}

// clientPost posts form to endpoint (the token or revocation endpoint of
// u) with idp's client authentication there: client_secret_basic, or
// client_secret_post where the upstream documents only that, or client_id
// alone for a public client.
func (s *Service) clientPost(ctx context.Context, u *Upstream, p *provider, endpoint string, form url.Values) (*http.Response, error) {
	secret, err := s.secret(u)
	if err != nil {
		return nil, err
	}
	if secret == "" || p.secretInForm {
		form.Set("client_id", u.ClientID)
	}
	if secret != "" && p.secretInForm {
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json") // GitHub answers form-encoded without it
	if secret != "" && !p.secretInForm {
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic.
		req.SetBasicAuth(url.QueryEscape(u.ClientID), url.QueryEscape(secret))
	}
	return s.cfg.HTTPClient.Do(req)
}

// postToken sends a token request (RFC 6749 §3.2) with form and idp's
// client authentication there. An invalid_grant answer (RFC 6749 §5.2:
// the grant is expired, revoked or was never this client's) also matches
// errGrantRefused, which a refresh check takes as the upstream's "no".
func (s *Service) postToken(ctx context.Context, u *Upstream, p *provider, form url.Values) (*tokenResponse, error) {
	resp, err := s.clientPost(ctx, u, p, p.tokenURL, form)
	if err != nil {
		return nil, fmt.Errorf("%w: token endpoint: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	var body tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&body); err != nil {
		return nil, fmt.Errorf("%w: token endpoint answered %d: %w", ErrUnavailable, resp.StatusCode, err)
	}
	if body.Error == "invalid_grant" {
		return nil, fmt.Errorf("%w: %w: token endpoint answered %d %s: %.200s", ErrUnavailable, errGrantRefused, resp.StatusCode, body.Error, body.Desc)
	}
	if resp.StatusCode != http.StatusOK || body.Error != "" {
		return nil, fmt.Errorf("%w: token endpoint answered %d %s: %.200s", ErrUnavailable, resp.StatusCode, body.Error, body.Desc)
	}
	return &body, nil
}
