package pages

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/db"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
)

const accountTime = "2 Jan 2006 15:04 MST"

// Account shows the signed-in user their account and their sessions.
func (h *Handlers) Account(c echo.Context) error {
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
	}
	list, err := h.site.Sessions.List(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}
	page := templates.AccountPage{
		Base: h.site.Base(c, "Your account"), Email: user.Email, Name: user.Name, Roles: user.Roles,
		IsAdmin: user.HasRole("admin"), Notice: noticeText(c.QueryParam("notice")),
	}
	grants, err := h.site.Tokens.Grants(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		name := g.ClientID
		if cl, err := h.site.Clients.Store().ByID(c.Request().Context(), g.ClientID); err == nil {
			name = plumbing.ClientName(cl)
		}
		page.Grants = append(page.Grants, templates.AccountGrant{
			ID: g.ID, Client: name, Created: g.CreatedAt.Format(accountTime), LastUsed: g.LastUsedAt.Format(accountTime),
			IP: g.IP, UserAgent: deviceName(g.UserAgent),
		})
	}
	for _, x := range list {
		page.Sessions = append(page.Sessions, templates.AccountSession{
			ID: x.ID, Created: x.CreatedAt.Format(accountTime), LastSeen: x.LastSeenAt.Format(accountTime),
			IP: x.IP, UserAgent: deviceName(x.UserAgent), Current: x.ID == sess.ID,
		})
	}
	return plumbing.Render(c, http.StatusOK, plumbing.HTMLCSP(), func(w io.Writer) error {
		return h.site.Templates.Account(w, page)
	})
}

// noticeText maps the fixed notice codes of account redirects to words, so
// no text from the URL is ever shown.
func noticeText(code string) string {
	switch code {
	case "session-ended":
		return "The session was signed out."
	case "grant-revoked":
		return "The application's access was revoked."
	}
	return ""
}

// RevokeSession signs out one of the user's sessions.
func (h *Handlers) RevokeSession(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
	}
	id := c.FormValue("id")
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	err = h.site.Sessions.End(c.Request().Context(), user.ID, id)
	if err == nil {
		h.site.Record(c, "session.ended", user.ID, "session="+id)
	}
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		return err
	}
	if id == sess.ID {
		h.site.SetCookie(c, plumbing.CookieSession, "", -1)
		return h.site.SignedOut(c, "")
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=session-ended")
}

// RevokeGrant revokes one of the user's offline-access grants
// (a refresh family and its live access tokens).
func (h *Handlers) RevokeGrant(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	_, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
	}
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	err = h.site.Tokens.RevokeGrant(c.Request().Context(), user.ID, c.FormValue("id"))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=grant-revoked")
}

// LogoutAll ends every session of the user ("sign out everywhere").
func (h *Handlers) LogoutAll(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	_, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user != nil {
		h.site.ActAs(c, user.Email, audit.ViaWeb)
		h.site.Record(c, "logout.everywhere", user.ID, "")
		if err := h.site.Sessions.EndAll(c.Request().Context(), user.ID); err != nil {
			return err
		}
		if err := h.site.Tokens.RevokeUserGrants(c.Request().Context(), user.ID); err != nil {
			return err
		}
		h.site.Log.Info("signed out everywhere", "request_id", plumbing.RequestIDOf(c), "user", user.ID)
	}
	h.site.SetCookie(c, plumbing.CookieSession, "", -1)
	return h.site.SignedOut(c, "")
}
