package plumbing

import (
	"errors"

	"github.com/labstack/echo/v4"

	"idp/sessions"
	"idp/users"
)

// CurrentUser returns the browser's live session and its enabled user, or
// nils. A session of a disabled user is ended.
func (s *Site) CurrentUser(c echo.Context) (*sessions.Session, *users.User, error) {
	token := s.Cookie(c, CookieSession)
	if token == "" {
		return nil, nil, nil
	}
	ctx := c.Request().Context()
	sess, err := s.Sessions.Lookup(ctx, token)
	if errors.Is(err, sessions.ErrNoSession) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	user, err := s.Users.Store().ByID(ctx, sess.UserID)
	if err != nil || user.Disabled {
		_ = s.Sessions.End(ctx, sess.UserID, sess.ID)
		return nil, nil, nil
	}
	return sess, user, nil
}
