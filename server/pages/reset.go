package pages

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"idp/selfservice"
	"idp/server/plumbing"
	"idp/templates"
	"idp/users"
)

// Reset request limits: per address, requests before each further one
// doubles the wait (so a mailbox cannot be flooded), and four times as
// many per client address (so one client cannot mail everyone).
const (
	resetPerAddress = 3
	resetPerIP      = 4 * resetPerAddress
)

// resetOn reports whether password reset is offered: only with mail.
func (h *Handlers) resetOn() bool { return h.cfg.SelfService.ResetEnabled() }

// renderReset shows one step of the reset page.
func (h *Handlers) renderReset(c echo.Context, status int, p templates.ResetPage) error {
	p.Base = h.site.Base(c, "Reset your password")
	return plumbing.Render(c, status, plumbing.HTMLCSP(), func(w io.Writer) error {
		return h.site.Templates.Reset(w, p)
	})
}

// ForgotPage asks for the address to send a reset link to.
func (h *Handlers) ForgotPage(c echo.Context) error {
	if !h.resetOn() {
		return echo.ErrNotFound
	}
	return h.renderReset(c, http.StatusOK, templates.ResetPage{Step: templates.ResetAsk})
}

// Forgot queues a reset mail and answers with the one page every
// address gets: same page, same status, same work (one outbox insert:
// the address is looked up later, when the outbox sends), so the answer
// tells nobody which accounts exist. Only a malformed address or a
// throttled request is answered otherwise, and neither depends on the
// accounts.
func (h *Handlers) Forgot(c echo.Context) error {
	if !h.resetOn() {
		return echo.ErrNotFound
	}
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	if email == "" || len(email) > 254 || !plumbing.ValidText(email) || !strings.Contains(email, "@") {
		return h.renderReset(c, http.StatusBadRequest, templates.ResetPage{Step: templates.ResetAsk,
			Error: "Enter the email address of your account, such as name@example.com."})
	}
	wait, err := h.throttle.Request(ctx, "reset", email, c.RealIP(), resetPerAddress, resetPerIP)
	if err != nil {
		return err
	}
	if wait > 0 {
		setRetryAfter(c, wait)
		return h.renderReset(c, http.StatusTooManyRequests, templates.ResetPage{Step: templates.ResetAsk, Email: email,
			Error: strings.Replace(tooManyText(wait), "failed attempts", "reset requests", 1)})
	}
	if err := h.cfg.SelfService.RequestReset(ctx, email); err != nil {
		return err
	}
	h.site.RecordAs(c, email, "password.reset_requested", "", "")
	return h.renderReset(c, http.StatusOK, templates.ResetPage{Step: templates.ResetSent,
		Minutes: int(h.cfg.SelfService.ResetTTL() / time.Minute)})
}

// ResetPage opens a reset link: the new-password form, or a page saying
// the link does not work. Looking does not use the link up.
func (h *Handlers) ResetPage(c echo.Context) error {
	if !h.resetOn() {
		return echo.ErrNotFound
	}
	token := c.QueryParam("token")
	if _, err := h.cfg.SelfService.CheckReset(c.Request().Context(), token); err != nil {
		return h.resetFailed(c, err)
	}
	return h.renderReset(c, http.StatusOK, templates.ResetPage{Step: templates.ResetChoose, Token: token})
}

// Reset sets the new password of a reset link. Every session and refresh
// family of the user ends; nobody is signed in (a second factor is still
// owed at the next sign-in).
func (h *Handlers) Reset(c echo.Context) error {
	if !h.resetOn() {
		return echo.ErrNotFound
	}
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	token, password := c.FormValue("token"), c.FormValue("password")
	if _, err := h.cfg.SelfService.CheckReset(ctx, token); err != nil {
		return h.resetFailed(c, err)
	}
	choose := templates.ResetPage{Step: templates.ResetChoose, Token: token}
	if password != c.FormValue("confirm") {
		choose.Error = "The two passwords differ. Type the same new password twice."
		return h.renderReset(c, http.StatusBadRequest, choose)
	}
	u, err := h.cfg.SelfService.CompleteReset(ctx, token, password)
	if errors.Is(err, users.ErrWeakPassword) {
		choose.Error = sentence(err.Error())
		return h.renderReset(c, http.StatusBadRequest, choose)
	}
	if err != nil {
		return h.resetFailed(c, err)
	}
	h.site.Log.Info("password reset", "request_id", plumbing.RequestIDOf(c), "user", u.ID)
	h.site.RecordAs(c, u.Email, "password.reset", u.ID, "sessions and refresh families ended")
	return h.renderReset(c, http.StatusOK, templates.ResetPage{Step: templates.ResetDone})
}

// resetFailed answers a link that does not work with a clear page, and
// any other error with the error page.
func (h *Handlers) resetFailed(c echo.Context, err error) error {
	if errors.Is(err, selfservice.ErrInvalidLink) {
		return h.renderReset(c, http.StatusBadRequest, templates.ResetPage{Step: templates.ResetInvalid})
	}
	return err
}

// sentence capitalises an error text and ends it with a full stop.
func sentence(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
