package pages

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/users"
)

// recentSignInWindow is how long after signing in (or stepping up) a user
// may change the password without typing the current one again.
const recentSignInWindow = 5 * time.Minute

// recentSignIn reports whether sess authenticated within the window.
func (h *Handlers) recentSignIn(sess *sessions.Session) bool {
	return sess != nil && h.site.Now().Sub(sess.AuthTime) < recentSignInWindow
}

// ChangePassword sets the signed-in user's password from the account
// page. It needs the current password unless the session signed in a
// moment ago; a wrong one counts toward the sign-in throttle like a failed
// sign-in, so a borrowed session cannot be used to guess it. With
// end_others (the form's default) every other session ends and every
// offline grant is revoked: the usual reason to change a password is that
// someone else may know it.
func (h *Handlers) ChangePassword(c echo.Context) error {
	sess, user, err := h.accountUser(c)
	if user == nil {
		return err
	}
	ctx := c.Request().Context()
	refuse := func(status int, why string) error { return h.renderAccount(c, status, sess, user, why) }
	current, next := c.FormValue("current_password"), c.FormValue("new_password")
	if next != c.FormValue("confirm_password") {
		return refuse(http.StatusBadRequest, "The new password and its confirmation differ.")
	}
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	if !h.recentSignIn(sess) {
		if stop, err := h.checkCurrentPassword(c, user, current, refuse); stop || err != nil {
			return err
		}
	}
	err = h.site.Users.SetPassword(ctx, user.Email, next)
	switch {
	case errors.Is(err, users.ErrWeakPassword):
		why := strings.TrimPrefix(err.Error(), users.ErrWeakPassword.Error()+": ")
		return refuse(http.StatusBadRequest, "Choose another password: this one is "+policyWords(why)+".")
	case errors.Is(err, users.ErrBusy):
		c.Response().Header().Set("Retry-After", "5")
		return refuse(http.StatusServiceUnavailable, "Too many people are signing in right now. Try again in a few seconds.")
	case err != nil:
		return err
	}
	endOthers := c.FormValue("end_others") != ""
	detail := "ended_others=false"
	if endOthers {
		n, err := h.site.Sessions.EndOthers(ctx, user.ID, sess.ID)
		if err != nil {
			return err
		}
		if err := h.site.Tokens.RevokeUserGrants(ctx, user.ID); err != nil {
			return err
		}
		detail = "ended_others=true sessions_ended=" + strconv.FormatInt(n, 10)
	}
	h.site.Record(c, "password.changed", user.ID, detail)
	h.site.Log.Info("password changed", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "ended_others", endOthers)
	notice := "password-changed-kept"
	if endOthers {
		notice = "password-changed"
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice="+notice)
}

// checkCurrentPassword asks for the current password under the sign-in
// throttle (a wrong one counts like a failed sign-in, so a borrowed
// session cannot guess it). stop means refuse has answered the request.
func (h *Handlers) checkCurrentPassword(c echo.Context, user *users.User, current string,
	refuse func(int, string) error) (stop bool, err error) {
	ctx, ip := c.Request().Context(), c.RealIP()
	if wait, err := h.throttle.Check(ctx, user.Email, ip); err != nil {
		return true, err
	} else if wait > 0 {
		setRetryAfter(c, wait)
		return true, refuse(http.StatusTooManyRequests, tooManyText(wait))
	}
	_, err = h.site.Users.Authenticate(ctx, user.Email, current)
	switch {
	case errors.Is(err, users.ErrInvalidCredentials):
		h.site.Record(c, "account.wrong_current_password", user.ID, "")
		if _, err := h.throttle.Fail(ctx, user.Email, ip); err != nil {
			return true, err
		}
		return true, refuse(http.StatusBadRequest, "Your current password is not right.")
	case errors.Is(err, users.ErrBusy):
		c.Response().Header().Set("Retry-After", "5")
		return true, refuse(http.StatusServiceUnavailable, "Too many people are signing in right now. Try again in a few seconds.")
	case err != nil:
		return true, err
	}
	return false, h.throttle.Succeed(ctx, user.Email, ip)
}

// policyWords turns the users package's reason into the page's words.
func policyWords(reason string) string {
	switch {
	case strings.HasPrefix(reason, "shorter"):
		return "too short (at least 8 characters)"
	case strings.HasPrefix(reason, "longer"):
		return "too long (at most 1024 bytes)"
	case strings.Contains(reason, "whitespace"):
		return "only spaces"
	case strings.Contains(reason, "common"):
		return "one of the most commonly used passwords, which attackers try first"
	case strings.Contains(reason, "email"):
		return "built from your email address"
	}
	return "not accepted"
}
