package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// logoutState is the pending sign-out, sealed in a cookie until idp sends
// the browser back with state.
type logoutState struct {
	State   string `json:"s"`
	Expires int64  `json:"e"`
}

// handleLogout ends the app session and sends the browser to idp's
// end_session_endpoint so the SSO session ends too (OIDC RP-Initiated
// Logout 1.0).
func (a *app) handleLogout(w http.ResponseWriter, r *http.Request) {
	s := a.sessionOf(r)
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != origin(a.cfg.RedirectURL) {
		a.fail(w, r, http.StatusForbidden, "cross-site sign-out refused", nil)
		return
	}
	s.mu.Lock()
	csrf := s.csrf
	s.mu.Unlock()
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf_token")), []byte(csrf)) != 1 {
		a.fail(w, r, http.StatusForbidden, "the sign-out form has expired; reload the page and try again", nil)
		return
	}
	ctx, cancel := a.idpContext(context.WithoutCancel(r.Context()))
	defer cancel()
	idToken := a.endSession(ctx, s)
	a.clearCookie(w, cookieSession)
	a.log.Info("signed out", "sub", s.sub)
	if a.meta.EndSessionEndpoint == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	ls := logoutState{State: rand.Text(), Expires: a.cfg.Now().Add(loginTTL).Unix()}
	if err := a.setSealed(w, cookieLogout, ls, loginTTL); err != nil {
		a.fail(w, r, http.StatusInternalServerError, "could not sign out at idp", err)
		return
	}
	u, err := url.Parse(a.meta.EndSessionEndpoint)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, "could not sign out at idp", err)
		return
	}
	q := u.Query()
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	q.Set("client_id", a.cfg.ClientID)
	q.Set("post_logout_redirect_uri", a.cfg.PostLogoutRedirectURL)
	q.Set("state", ls.State)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// endSession removes s and revokes its refresh token at idp, so the
// tokens this app held die with the session. It returns the ID token, for
// id_token_hint.
func (a *app) endSession(ctx context.Context, s *session) string {
	a.sessions.remove(s.id)
	s.mu.Lock()
	s.dropped = true
	idToken, refresh := s.idToken, s.refreshToken
	s.mu.Unlock()
	if refresh != "" && a.meta.RevocationEndpoint != "" {
		if err := a.revoke(ctx, refresh); err != nil {
			a.log.Warn("revoking the refresh token failed", "sub", s.sub, "error", err)
		}
	}
	return idToken
}

// revoke revokes a refresh token (RFC 7009), authenticating like the token
// endpoint.
func (a *app) revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	if a.oauth.Endpoint.AuthStyle == oauth2.AuthStyleInParams {
		form.Set("client_id", a.cfg.ClientID)
		form.Set("client_secret", a.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.meta.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if a.oauth.Endpoint.AuthStyle == oauth2.AuthStyleInHeader {
		// RFC 6749 §2.3.1: form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(a.cfg.ClientID), url.QueryEscape(a.cfg.ClientSecret))
	}
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// signedOutReturn reports whether the request is idp's redirect after
// sign-out carrying the state this browser was given, and forgets it.
func (a *app) signedOutReturn(w http.ResponseWriter, r *http.Request) bool {
	st := r.URL.Query().Get("state")
	if st == "" {
		return false
	}
	var ls logoutState
	if !a.openSealed(r, cookieLogout, &ls) {
		return false
	}
	a.clearCookie(w, cookieLogout)
	return subtle.ConstantTimeCompare([]byte(st), []byte(ls.State)) == 1
}

// ---- pages ----
