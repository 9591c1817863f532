package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"idp/verifier"
)

// loginState is the pending sign-in, sealed in a cookie between /login
// and the callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// handleLogin starts the authorization code flow with PKCE S256, state and
// nonce.
func (a *app) handleLogin(w http.ResponseWriter, r *http.Request) {
	ls := loginState{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
		Expires: a.cfg.Now().Add(loginTTL).Unix()}
	if err := a.setSealed(w, cookieLogin, ls, loginTTL); err != nil {
		a.fail(w, r, http.StatusInternalServerError, "could not start signing in", err)
		return
	}
	u := a.oauth.AuthCodeURL(ls.State, oauth2.S256ChallengeOption(ls.Verifier),
		oauth2.SetAuthURLParam("nonce", ls.Nonce))
	http.Redirect(w, r, u, http.StatusFound)
}

// handleCallback finishes the sign-in: it checks state and iss, redeems the
// code, verifies both tokens and starts an app session.
func (a *app) handleCallback(w http.ResponseWriter, r *http.Request) {
	var ls loginState
	ok := a.openSealed(r, cookieLogin, &ls)
	a.clearCookie(w, cookieLogin) // single use, whatever happens next
	q := r.URL.Query()
	switch {
	case !ok:
		a.fail(w, r, http.StatusBadRequest, "this sign-in was not started here or took too long; please sign in again", nil)
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1:
		a.fail(w, r, http.StatusBadRequest, "the sign-in response does not belong to this browser; please sign in again", nil)
		return
	case (a.meta.IssParameter || q.Has("iss")) && q.Get("iss") != a.cfg.Issuer:
		// RFC 9207 §2.4: a response from another issuer (mix-up attack).
		a.fail(w, r, http.StatusBadRequest, "the sign-in response came from an unexpected issuer", nil)
		return
	case q.Get("error") != "":
		msg := "sign-in did not complete: " + q.Get("error")
		if d := q.Get("error_description"); d != "" {
			msg += " (" + d + ")"
		}
		a.fail(w, r, http.StatusForbidden, msg, nil)
		return
	case q.Get("code") == "":
		a.fail(w, r, http.StatusBadRequest, "the sign-in response has no code", nil)
		return
	}

	ctx, cancel := a.idpContext(r.Context())
	defer cancel()
	tok, err := a.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, "idp did not accept the sign-in", err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	id, err := a.verifier.VerifyIDToken(ctx, rawID, ls.Nonce)
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, "idp's ID token is not valid", err)
		return
	}
	at, err := a.verifier.VerifyAccessToken(ctx, tok.AccessToken)
	if err != nil || at.Subject != id.Subject {
		a.fail(w, r, http.StatusBadGateway, "idp's access token is not valid", err)
		return
	}

	// A fresh id for the signed-in state, never one the browser brought.
	if old := a.sessionOf(r); old != nil {
		a.endSession(ctx, old)
	}
	s := &session{
		id: rand.Text() + rand.Text(), csrf: rand.Text(), expires: a.cfg.Now().Add(a.cfg.SessionTTL),
		sub: id.Subject, email: id.Email, name: id.Name,
		idToken: rawID, accessToken: tok.AccessToken, refreshToken: tok.RefreshToken,
	}
	a.sessions.add(s)
	a.setCookie(w, cookieSession, s.id, a.cfg.SessionTTL)
	a.log.Info("signed in", "sub", s.sub, "refresh_token", s.refreshToken != "")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// ---- the session on every request ----

// sessionOf returns the request's stored session, or nil.
func (a *app) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(a.cookieName(cookieSession))
	if err != nil {
		return nil
	}
	return a.sessions.get(c.Value)
}

// authenticate returns the signed-in user, after checking the session's
// access token with the verifier. An expired (or otherwise refused) access
// token is replaced by a refresh; if idp refuses the refresh token
// (revoked, expired, user disabled) the session is dropped and the result
// is errSignedOut. Other errors are idp or the network failing: the
// session is kept, to be tried again.
func (a *app) authenticate(w http.ResponseWriter, r *http.Request) (*user, error) {
	s := a.sessionOf(r)
	if s == nil {
		return nil, errSignedOut
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped {
		return nil, errSignedOut
	}
	claims, err := a.verifier.VerifyAccessToken(r.Context(), s.accessToken)
	if err == nil {
		return s.userOf(claims), nil
	}
	if !errors.Is(err, verifier.ErrInvalidToken) {
		return nil, err // e.g. the request ended while the JWKS was fetched
	}
	a.log.Debug("access token refused, refreshing", "sub", s.sub, "reason", err)
	claims, err = a.refresh(r.Context(), s)
	if errors.Is(err, errSignedOut) {
		a.sessions.remove(s.id)
		s.dropped = true
		a.clearCookie(w, cookieSession)
		return nil, errSignedOut
	}
	if err != nil {
		return nil, err
	}
	return s.userOf(claims), nil
}

// refresh redeems the session's refresh token; the caller holds s.mu. The
// call to idp is detached from the request: idp rotates the refresh token
// as soon as it answers, so a browser hanging up must not make the app
// miss the new one.
func (a *app) refresh(reqCtx context.Context, s *session) (*verifier.AccessClaims, error) {
	if s.refreshToken == "" {
		return nil, fmt.Errorf("%w: no refresh token (offline_access not granted)", errSignedOut)
	}
	ctx, cancel := a.idpContext(context.WithoutCancel(reqCtx))
	defer cancel()
	// A token with no access token is never valid, so the token source
	// goes straight to the refresh grant.
	tok, err := a.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: s.refreshToken}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			a.log.Info("refresh refused, session dropped", "sub", s.sub, "error", re.ErrorCode)
			return nil, fmt.Errorf("%w: %v", errSignedOut, err)
		}
		return nil, fmt.Errorf("refresh: %w", err)
	}
	// Keep the rotated refresh token at once: the old one is spent.
	if tok.RefreshToken != "" {
		s.refreshToken = tok.RefreshToken
	}
	claims, err := a.verifier.VerifyAccessToken(ctx, tok.AccessToken)
	if err == nil && claims.Subject != s.sub {
		err = fmt.Errorf("%w: refreshed token is for another subject", verifier.ErrInvalidToken)
	}
	if err != nil {
		if errors.Is(err, verifier.ErrInvalidToken) {
			return nil, fmt.Errorf("%w: refreshed access token: %v", errSignedOut, err)
		}
		return nil, err
	}
	s.accessToken = tok.AccessToken
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		// OIDC Core §12.2: same iss and sub; no nonce to compare.
		if id, err := a.verifier.VerifyIDToken(ctx, raw, ""); err == nil && id.Subject == s.sub {
			s.idToken = raw
			if id.Email != "" {
				s.email = id.Email
			}
			if id.Name != "" {
				s.name = id.Name
			}
		} else {
			a.log.Warn("refreshed ID token ignored", "sub", s.sub, "error", err)
		}
	}
	a.log.Info("tokens refreshed", "sub", s.sub)
	return claims, nil
}

// ---- sign-out ----
