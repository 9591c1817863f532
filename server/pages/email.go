package pages

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/selfservice"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
	"idp/users"
)

// The email change form is throttled per user and address like the
// other mail it sends.
const (
	emailChangePerUser = 3
	emailChangePerIP   = 12
)

// ChangeEmail asks for a link to the new address; nothing changes until
// it is used. Like a password change it needs the current password unless
// the session signed in a moment ago, and a wrong one counts toward the
// sign-in throttle.
func (h *Handlers) ChangeEmail(c echo.Context) error {
	sess, user, err := h.accountUser(c)
	if user == nil {
		return err
	}
	if !h.cfg.SelfService.ResetEnabled() {
		return echo.ErrNotFound
	}
	ctx := c.Request().Context()
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	refuse := func(status int, why string) error { return h.renderAccountEmail(c, status, sess, user, why) }
	if !h.recentSignIn(sess) {
		if stop, err := h.checkCurrentPassword(c, user, c.FormValue("current_password"), refuse); stop || err != nil {
			return err
		}
	}
	email := strings.TrimSpace(c.FormValue("email"))
	switch {
	case users.ValidateEmail(email) != nil:
		return refuse(http.StatusBadRequest, "That is not an email address such as name@example.com.")
	case strings.EqualFold(email, user.Email):
		return refuse(http.StatusBadRequest, "That is already your address.")
	}
	wait, err := h.throttle.Request(ctx, "email-change", user.ID, c.RealIP(), emailChangePerUser, emailChangePerIP)
	if err != nil {
		return err
	}
	if wait > 0 {
		setRetryAfter(c, wait)
		return refuse(http.StatusTooManyRequests, "A link was sent a moment ago. "+tooManyText(wait))
	}
	err = h.cfg.SelfService.RequestEmailChange(ctx, user, email)
	switch {
	case errors.Is(err, users.ErrInvalidEmail):
		return refuse(http.StatusBadRequest, "That is not an email address such as name@example.com.")
	case errors.Is(err, selfservice.ErrSameEmail):
		return refuse(http.StatusBadRequest, "That is already your address.")
	case err != nil:
		return err
	}
	h.site.Record(c, "email.change_requested", user.ID, "")
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=email-link-sent")
}

// renderAccountEmail shows the account page with the email form's error.
func (h *Handlers) renderAccountEmail(c echo.Context, status int, sess *sessions.Session, user *users.User, why string) error {
	c.Set(ctxEmailError, why)
	return h.renderAccount(c, status, sess, user, "")
}

const ctxEmailError = "account_email_error"

// EmailChangePage opens an email change link: a button to confirm, so a
// mail scanner fetching the link changes nothing.
func (h *Handlers) EmailChangePage(c echo.Context) error {
	if h.cfg.SelfService == nil {
		return echo.ErrNotFound
	}
	token := c.QueryParam("token")
	_, email, err := h.cfg.SelfService.CheckEmailChange(c.Request().Context(), token)
	if err != nil {
		return h.verifyFailed(c, err)
	}
	return h.renderVerify(c, http.StatusOK, templates.VerifyPage{Step: templates.VerifyChange, Email: email, Token: token})
}

// EmailChange uses an email change link: the account moves to the new
// address, which counts as verified, and the old one is told.
func (h *Handlers) EmailChange(c echo.Context) error {
	if h.cfg.SelfService == nil {
		return echo.ErrNotFound
	}
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	u, old, err := h.cfg.SelfService.CompleteEmailChange(c.Request().Context(), c.FormValue("token"))
	if err != nil {
		return h.verifyFailed(c, err)
	}
	h.site.RecordAs(c, u.Email, "email.changed", u.ID, "from="+old+" to="+u.Email)
	return h.renderVerify(c, http.StatusOK, templates.VerifyPage{Step: templates.VerifyChanged, Email: u.Email})
}
