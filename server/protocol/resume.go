package protocol

import (
	"github.com/labstack/echo/v4"

	"idp/oauth"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/users"
)

// The sign-in and consent pages hand a pending authorization request back
// by its id alone (the zitadel/oidc way): the methods below load it again
// and answer the browser in the same response, so the redirect chain is
// what it would be with one package. The session and user are the page's
// own: a session started on this request is not in its cookies yet.
// Package server wires these methods to the pages' Authorizer.

// SignedIn continues request id after the user signed in for it. The
// sign-in is recorded on the request, which satisfies prompt=login and
// max_age (OIDC Core §3.1.2.1); the request goes on to consent or a code.
func (h *Handlers) SignedIn(c echo.Context, id string, sess *sessions.Session, user *users.User) error {
	ctx := c.Request().Context()
	if err := h.site.Tokens.MarkLoggedIn(ctx, id); err != nil {
		return err
	}
	req, client, err := h.site.PendingRequest(ctx, id)
	if err != nil {
		return err
	}
	return h.continueAuthorization(c, client, req, sess, user)
}

// Resumed continues request id after a page step that was not a sign-in:
// unlike SignedIn it records nothing on the request, so a request that
// wants a fresh sign-in (prompt=login, max_age) still gets one.
func (h *Handlers) Resumed(c echo.Context, id string, sess *sessions.Session, user *users.User) error {
	req, client, err := h.site.PendingRequest(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.continueAuthorization(c, client, req, sess, user)
}

// Consented answers request id with a code once the user has approved its
// scopes; the consent page has already remembered them.
func (h *Handlers) Consented(c echo.Context, id string, sess *sessions.Session, user *users.User) error {
	req, _, err := h.site.PendingRequest(c.Request().Context(), id)
	if err != nil {
		return err
	}
	req.Scopes = plumbing.GrantableScopes(user, req.Scopes)
	return h.issueCode(c, req, sess, user)
}

// Denied answers request id with access_denied (RFC 6749 §4.1.2.1): the
// user declined on the consent page.
func (h *Handlers) Denied(c echo.Context, id string) error {
	req, _, err := h.site.PendingRequest(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.redirectError(c, req, oauth.AccessDenied("the user denied the request"))
}
