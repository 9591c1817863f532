package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/sessions"
	"idp/templates"
)

const accountTime = "2 Jan 2006 15:04 MST"

// handleAccount shows the signed-in user their account and their sessions.
func (s *Server) handleAccount(c echo.Context) error {
	sess, user, err := s.currentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, pathLogin)
	}
	list, err := s.deps.Sessions.List(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}
	page := templates.AccountPage{
		Base: s.base(c, "Your account"), Email: user.Email, Name: user.Name, Roles: user.Roles,
		IsAdmin: user.HasRole("admin"), Notice: noticeText(c.QueryParam("notice")),
	}
	for _, x := range list {
		page.Sessions = append(page.Sessions, templates.AccountSession{
			ID: x.ID, Created: x.CreatedAt.Format(accountTime), LastSeen: x.LastSeenAt.Format(accountTime),
			IP: x.IP, UserAgent: x.UserAgent, Current: x.ID == sess.ID,
		})
	}
	return s.render(c, http.StatusOK, htmlCSP(), func(w io.Writer) error {
		return s.deps.Templates.Account(w, page)
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

// handleAccountSessionRevoke signs out one of the user's sessions.
func (s *Server) handleAccountSessionRevoke(c echo.Context) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	sess, user, err := s.currentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, pathLogin)
	}
	id := c.FormValue("id")
	err = s.deps.Sessions.End(c.Request().Context(), user.ID, id)
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		return err
	}
	if id == sess.ID {
		s.setCookie(c, cookieSession, "", -1)
		return s.renderSignedOut(c, "")
	}
	return c.Redirect(http.StatusSeeOther, pathAccount+"?notice=session-ended")
}

// handleLogoutAll ends every session of the user ("sign out everywhere").
func (s *Server) handleLogoutAll(c echo.Context) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	_, user, err := s.currentUser(c)
	if err != nil {
		return err
	}
	if user != nil {
		if err := s.deps.Sessions.EndAll(c.Request().Context(), user.ID); err != nil {
			return err
		}
		s.log.Info("signed out everywhere", "request_id", requestIDOf(c), "user", user.ID)
	}
	s.setCookie(c, cookieSession, "", -1)
	return s.renderSignedOut(c, "")
}

// handleLogout ends this browser's session (the account page's button).
func (s *Server) handleLogout(c echo.Context) error {
	if err := s.checkCSRF(c); err != nil {
		return err
	}
	sess, _, err := s.currentUser(c)
	if err != nil {
		return err
	}
	if sess != nil {
		if err := s.deps.Sessions.End(c.Request().Context(), sess.UserID, sess.ID); err != nil && !errors.Is(err, sessions.ErrNoSession) {
			return err
		}
	}
	s.setCookie(c, cookieSession, "", -1)
	return s.renderSignedOut(c, "")
}

func (s *Server) renderSignedOut(c echo.Context, clientName string) error {
	return s.render(c, http.StatusOK, htmlCSP(), func(w io.Writer) error {
		return s.deps.Templates.SignedOut(w, templates.SignedOutPage{Base: s.base(c, "Signed out"), ClientName: clientName})
	})
}
