package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/mfa"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/tokens"
	"idp/users"
)

// continueAuthorization decides what an authorization request needs next,
// given the browser's session: the sign-in page, the consent page, or a
// code. It is called from /authorize, and again after sign-in (SignedIn).
func (h *Handlers) continueAuthorization(c echo.Context, client *clients.Client, req *tokens.AuthRequest,
	sess *sessions.Session, user *users.User) error {
	ctx := c.Request().Context()
	var err error
	if h.needsLogin(req, sess) {
		if req.HasPrompt(oauth.PromptNone) {
			return h.redirectError(c, req, oauth.LoginRequired("the user is not signed in"))
		}
		return h.toPage(c, req, plumbing.PathLogin)
	}
	// A second factor the client, the user's role or acr_values demands
	// and this session lacks is asked for on its own (step-up): the user
	// keeps the session and proves only what is missing.
	if mfa.Assurance(sess.AMR) < h.site.LevelNeeded(client, user, req.ACRValues) {
		if req.HasPrompt(oauth.PromptNone) {
			return h.redirectError(c, req, oauth.LoginRequired("a stronger sign-in is needed"))
		}
		return h.toPage(c, req, plumbing.PathLoginMFA)
	}
	// A client that needs a verified address gets no code for a user whose
	// address is not: they verify it first, then continue.
	if client.RequireVerifiedEmail && !user.EmailVerified {
		if req.HasPrompt(oauth.PromptNone) {
			return h.redirectError(c, req, &oauth.Error{Code: "interaction_required", Status: 400,
				Description: "the user must verify their email address first"})
		}
		return h.toPage(c, req, plumbing.PathVerifyNeed)
	}
	// idp:admin is granted only to admins; for anyone else it is dropped,
	// and the token's scope says what was granted (RFC 6749 §3.3).
	req.Scopes = plumbing.GrantableScopes(user, req.Scopes)
	consent := req.HasPrompt(oauth.PromptConsent) && !client.Trusted
	if !consent {
		if consent, err = h.site.Tokens.NeedsConsent(ctx, user.ID, client.ID, client.Trusted, req.Scopes); err != nil {
			return err
		}
	}
	if consent {
		if req.HasPrompt(oauth.PromptNone) {
			return h.redirectError(c, req, oauth.ConsentRequired("the user has not approved this application"))
		}
		return h.toPage(c, req, plumbing.PathConsent)
	}
	return h.issueCode(c, req, sess, user)
}

// needsLogin applies prompt=login and max_age (OIDC Core §3.1.2.1): both
// ask for a fresh sign-in, which one sign-in for this request satisfies.
func (h *Handlers) needsLogin(req *tokens.AuthRequest, sess *sessions.Session) bool {
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
	return req.MaxAge != nil && h.site.Now().Sub(sess.AuthTime) >= time.Duration(*req.MaxAge)*time.Second
}

// toPage saves the request (if it is new) and sends the browser to the
// sign-in or consent page with its id.
func (h *Handlers) toPage(c echo.Context, req *tokens.AuthRequest, page string) error {
	if req.ID == "" {
		if err := h.site.Tokens.SaveAuthRequest(c.Request().Context(), req); err != nil {
			return err
		}
	}
	target := page + "?req=" + url.QueryEscape(req.ID)
	switch {
	case page != plumbing.PathLogin:
	case req.UpstreamHint != "":
		target += "&idp_hint=" + url.QueryEscape(req.UpstreamHint)
	case req.LoginHint != "":
		// The sign-in page may send a login_hint whose domain belongs to
		// an upstream straight there (home realm discovery), this once.
		target += "&realm=1"
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// upstreamHint is the authorization request's idp_hint (or Keycloak's
// kc_idp_hint): the upstream provider the client wants the user sent to,
// skipping the sign-in page. It is read from the request's parameters,
// so a pushed request (RFC 9126) carries it as a plain one does. It is a
// hint only: the sign-in page ignores one that names no upstream.
func upstreamHint(p url.Values) string {
	hint := p.Get("idp_hint")
	if hint == "" {
		hint = p.Get("kc_idp_hint")
	}
	if len(hint) > 64 || !plumbing.ValidText(hint) {
		return ""
	}
	return hint
}

// issueCode answers the request with a code at the client's redirect_uri.
func (h *Handlers) issueCode(c echo.Context, req *tokens.AuthRequest, sess *sessions.Session, user *users.User) error {
	code, err := h.site.Tokens.IssueCode(c.Request().Context(), req, tokens.Authn{
		UserID: user.ID, SessionID: sess.ID, AuthTime: sess.AuthTime, AMR: sess.AMR,
		ACR:        mfa.IssuedACR(req.ACRValues, mfa.Assurance(sess.AMR)),
		UpstreamID: sess.UpstreamID, UpstreamSub: sess.UpstreamSub,
	})
	if errors.Is(err, tokens.ErrRequestGone) {
		return plumbing.ErrRequestGone
	}
	if err != nil {
		return err
	}
	return h.respond(c, req, url.Values{"code": {code}})
}

// redirectError sends an error back to the client (RFC 6749 §4.1.2.1) —
// unless it must not redirect, in which case the user sees it.
func (h *Handlers) redirectError(c echo.Context, req *tokens.AuthRequest, e *oauth.Error) error {
	if e.NoRedirect || req == nil || req.RedirectURI == "" {
		return e.WithoutRedirect()
	}
	if req.ID != "" {
		_ = h.site.Tokens.CancelAuthRequest(c.Request().Context(), req.ID)
	}
	v := url.Values{"error": {e.Code}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	return h.respond(c, req, v)
}

// respond delivers an authorization response with state and iss (RFC 9207)
// in the request's response mode.
func (h *Handlers) respond(c echo.Context, req *tokens.AuthRequest, v url.Values) error {
	if req.State != "" {
		v.Set("state", req.State)
	}
	v.Set("iss", h.site.Issuer)
	if req.ResponseMode == oauth.ResponseModeFormPost {
		return h.formPost(c, req.RedirectURI, v)
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
