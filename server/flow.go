package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/tokens"
	"idp/users"
)

// continueAuthorization decides what an authorization request needs next,
// given the browser's session: the sign-in page, the consent page, or a
// code. It is called from /authorize, and again after sign-in and consent.
func (s *Server) continueAuthorization(c echo.Context, client *clients.Client, req *tokens.AuthRequest,
	sess *sessions.Session, user *users.User) error {
	ctx := c.Request().Context()
	var err error
	if s.needsLogin(req, sess) {
		if req.HasPrompt(oauth.PromptNone) {
			return s.redirectError(c, req, oauth.LoginRequired("the user is not signed in"))
		}
		return s.toPage(c, req, plumbing.PathLogin)
	}
	// idp:admin is granted only to admins; for anyone else it is dropped,
	// and the token's scope says what was granted (RFC 6749 §3.3).
	if !user.HasRole("admin") {
		req.Scopes = slices.DeleteFunc(slices.Clone(req.Scopes), func(sc string) bool { return sc == oauth.ScopeAdmin })
	}
	consent := req.HasPrompt(oauth.PromptConsent) && !client.Trusted
	if !consent {
		if consent, err = s.deps.Tokens.NeedsConsent(ctx, user.ID, client.ID, client.Trusted, req.Scopes); err != nil {
			return err
		}
	}
	if consent {
		if req.HasPrompt(oauth.PromptNone) {
			return s.redirectError(c, req, oauth.ConsentRequired("the user has not approved this application"))
		}
		return s.toPage(c, req, plumbing.PathConsent)
	}
	return s.issueCode(c, req, sess, user)
}

// needsLogin applies prompt=login and max_age (OIDC Core §3.1.2.1): both
// ask for a fresh sign-in, which one sign-in for this request satisfies.
func (s *Server) needsLogin(req *tokens.AuthRequest, sess *sessions.Session) bool {
	if sess == nil {
		return true
	}
	if req.LoggedInAt != nil {
		return false
	}
	if req.HasPrompt(oauth.PromptLogin) {
		return true
	}
	// ">=" so that max_age=0 always asks, as prompt=login does (OIDC Core
	// §3.1.2.1), even when the sign-in happened within the same instant.
	return req.MaxAge != nil && s.site.Now().Sub(sess.AuthTime) >= time.Duration(*req.MaxAge)*time.Second
}

// toPage saves the request (if it is new) and sends the browser to the
// sign-in or consent page with its id.
func (s *Server) toPage(c echo.Context, req *tokens.AuthRequest, page string) error {
	if req.ID == "" {
		if err := s.deps.Tokens.SaveAuthRequest(c.Request().Context(), req); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, page+"?req="+url.QueryEscape(req.ID))
}

// issueCode answers the request with a code at the client's redirect_uri.
func (s *Server) issueCode(c echo.Context, req *tokens.AuthRequest, sess *sessions.Session, user *users.User) error {
	code, err := s.deps.Tokens.IssueCode(c.Request().Context(), req, user.ID, sess.ID, sess.AuthTime)
	if errors.Is(err, tokens.ErrRequestGone) {
		return plumbing.ErrRequestGone
	}
	if err != nil {
		return err
	}
	return s.respond(c, req, url.Values{"code": {code}})
}

// redirectError sends an error back to the client (RFC 6749 §4.1.2.1) —
// unless it must not redirect, in which case the user sees it.
func (s *Server) redirectError(c echo.Context, req *tokens.AuthRequest, e *oauth.Error) error {
	if e.NoRedirect || req == nil || req.RedirectURI == "" {
		return e.WithoutRedirect()
	}
	if req.ID != "" {
		_ = s.deps.Tokens.CancelAuthRequest(c.Request().Context(), req.ID)
	}
	v := url.Values{"error": {e.Code}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	return s.respond(c, req, v)
}

// respond delivers an authorization response with state and iss (RFC 9207)
// in the request's response mode.
func (s *Server) respond(c echo.Context, req *tokens.AuthRequest, v url.Values) error {
	if req.State != "" {
		v.Set("state", req.State)
	}
	v.Set("iss", s.cfg.Issuer)
	if req.ResponseMode == oauth.ResponseModeFormPost {
		return s.formPost(c, req.RedirectURI, v)
	}
	u, err := url.Parse(req.RedirectURI)
	if err != nil {
		return fmt.Errorf("registered redirect_uri unparsable: %w", err)
	}
	q := u.Query()
	for k, vals := range v {
		q[k] = vals
	}
	u.RawQuery = q.Encode()
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, u.String())
}
