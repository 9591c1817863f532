package protocol

import (
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/db"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
)

// logoutRequest is a validated RP-initiated logout request.
type logoutRequest struct {
	client      *clients.Client
	redirectURI string // registered post_logout_redirect_uri, or ""
	state       string
	hintSub     string // sub of a valid id_token_hint, or ""
}

// EndSession is the end_session_endpoint (OpenID Connect
// RP-Initiated Logout 1.0 §2, GET and POST). With a valid id_token_hint
// for the signed-in user the session ends at once; otherwise the user is
// asked to confirm, so a third-party page cannot sign them out silently.
func (h *Handlers) EndSession(c echo.Context) error {
	params, err := authorizeParams(c)
	if err != nil {
		return err
	}
	lr, err := h.parseLogout(c, params)
	if err != nil {
		return err
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if sess == nil || (lr.hintSub != "" && lr.hintSub == user.ID) {
		if err := h.endSession(c, sess); err != nil {
			return err
		}
		return h.afterLogout(c, lr)
	}
	fields := map[string]string{}
	for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
		if v := params.Get(k); v != "" {
			fields[k] = v
		}
	}
	if lr.client != nil {
		fields["client_id"] = lr.client.ID
	}
	page := templates.LogoutPage{Base: h.site.Base(c, "Sign out"), ClientName: plumbing.ClientName(lr.client), Fields: fields}
	return plumbing.Render(c, http.StatusOK, plumbing.HTMLCSP(lr.redirectURI), func(w io.Writer) error {
		return h.site.Templates.Logout(w, page)
	})
}

// Logout is the confirmed sign-out: the account page's button, and
// the confirmation page of RP-initiated logout, whose fields are validated
// again here.
func (h *Handlers) Logout(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	if err := c.Request().ParseForm(); err != nil {
		return oauth.InvalidRequest("the form is malformed").WithoutRedirect()
	}
	lr, err := h.parseLogout(c, c.Request().PostForm)
	if err != nil {
		return err
	}
	if c.FormValue("decision") == "stay" {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	}
	sess, _, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if err := h.endSession(c, sess); err != nil {
		return err
	}
	return h.afterLogout(c, lr)
}

// parseLogout validates the hint, the client and post_logout_redirect_uri
// (registered URIs only). Errors are pages: nothing here may redirect to an
// unvalidated address.
func (h *Handlers) parseLogout(c echo.Context, p url.Values) (*logoutRequest, error) {
	ctx := c.Request().Context()
	lr := &logoutRequest{state: p.Get("state")}
	clientID := p.Get("client_id")
	if hint := p.Get("id_token_hint"); hint != "" {
		claims, err := h.site.Tokens.ParseIDTokenHint(ctx, hint)
		if err != nil {
			// An invalid hint is not fatal: the user is asked instead.
			h.site.Log.Info("ignored invalid id_token_hint", "request_id", plumbing.RequestIDOf(c))
		} else {
			if clientID != "" && clientID != claims.Audience {
				return nil, oauth.InvalidRequest("client_id does not match the id_token_hint").WithoutRedirect()
			}
			clientID, lr.hintSub = claims.Audience, claims.Subject
		}
	}
	if clientID != "" {
		client, err := h.site.Clients.Store().ByID(ctx, clientID)
		if errors.Is(err, db.ErrNotFound) {
			return nil, oauth.InvalidRequest("the application is not registered with this sign-in service").WithoutRedirect()
		}
		if err != nil {
			return nil, err
		}
		lr.client = client
	}
	if uri := p.Get("post_logout_redirect_uri"); uri != "" {
		if lr.client == nil {
			return nil, oauth.InvalidRequest("post_logout_redirect_uri needs client_id or id_token_hint").WithoutRedirect()
		}
		if !lr.client.HasPostLogoutRedirectURI(uri) {
			return nil, oauth.InvalidRequest("post_logout_redirect_uri is not registered for this application").WithoutRedirect()
		}
		lr.redirectURI = uri
	}
	return lr, nil
}

// endSession ends the browser's session and clears its cookie.
func (h *Handlers) endSession(c echo.Context, sess *sessions.Session) error {
	h.site.SetCookie(c, plumbing.CookieSession, "", -1)
	if sess == nil {
		return nil
	}
	h.site.NoteEnding(c, sess.ID)
	err := h.site.Sessions.End(c.Request().Context(), sess.UserID, sess.ID)
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		return err
	}
	h.site.Log.Info("signed out", "request_id", plumbing.RequestIDOf(c), "user", sess.UserID)
	h.site.RecordAs(c, sess.UserID, "logout", sess.UserID, "session="+sess.ID)
	return nil
}

// afterLogout returns the user to the client's registered URI with state,
// or shows the signed-out page.
func (h *Handlers) afterLogout(c echo.Context, lr *logoutRequest) error {
	if lr.redirectURI == "" {
		return h.site.SignedOut(c, plumbing.ClientName(lr.client))
	}
	u, err := url.Parse(lr.redirectURI)
	if err != nil {
		return err
	}
	if lr.state != "" {
		q := u.Query()
		q.Set("state", lr.state)
		u.RawQuery = q.Encode()
	}
	if plumbing.FrontChannelNoted(c) {
		// The iframes must load before the user leaves (Front-Channel
		// Logout 1.0 §4): the page offers the way back instead.
		return h.site.SignedOutThen(c, plumbing.ClientName(lr.client), u.String())
	}
	return c.Redirect(http.StatusSeeOther, u.String())
}
