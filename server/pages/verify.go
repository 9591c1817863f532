package pages

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/selfservice"
	"idp/server/plumbing"
	"idp/templates"
)

// renderVerify shows one step of the verification page.
func (h *Handlers) renderVerify(c echo.Context, status int, p templates.VerifyPage) error {
	p.Base = h.site.Base(c, "Confirm your email address")
	return plumbing.Render(c, status, plumbing.HTMLCSP(), func(w io.Writer) error {
		return h.site.Templates.Verify(w, p)
	})
}

// verifyFailed answers a link that does not work with a clear page.
func (h *Handlers) verifyFailed(c echo.Context, err error) error {
	if errors.Is(err, selfservice.ErrInvalidLink) {
		return h.renderVerify(c, http.StatusBadRequest, templates.VerifyPage{Step: templates.VerifyInvalid})
	}
	return err
}

// VerifyPage opens a verification link: a button to confirm, so that a
// mail scanner fetching the link verifies nothing.
func (h *Handlers) VerifyPage(c echo.Context) error {
	if h.cfg.SelfService == nil {
		return echo.ErrNotFound
	}
	token := c.QueryParam("token")
	u, err := h.cfg.SelfService.CheckVerification(c.Request().Context(), token)
	if err != nil {
		return h.verifyFailed(c, err)
	}
	return h.renderVerify(c, http.StatusOK, templates.VerifyPage{Step: templates.VerifyConfirm, Email: u.Email, Token: token})
}

// Verify uses a verification link: the address is marked verified.
func (h *Handlers) Verify(c echo.Context) error {
	if h.cfg.SelfService == nil {
		return echo.ErrNotFound
	}
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	u, err := h.cfg.SelfService.CompleteVerification(c.Request().Context(), c.FormValue("token"))
	if err != nil {
		return h.verifyFailed(c, err)
	}
	h.site.RecordAs(c, u.Email, "email.verified", u.ID, "email="+u.Email)
	return h.renderVerify(c, http.StatusOK, templates.VerifyPage{Step: templates.VerifyDone, Email: u.Email})
}

// The verification a client needs before it gets a code: an address
// link is sent at most this often per user and per address.
const (
	verifyNeedPerUser = 3
	verifyNeedPerIP   = 12
)

// VerifyNeededPage tells a signed-in user that the client of request req
// needs a verified address, with a button to mail the link and one to
// continue once it is confirmed.
func (h *Handlers) VerifyNeededPage(c echo.Context) error {
	return h.verifyNeeded(c, http.StatusOK, false, "")
}

func (h *Handlers) verifyNeeded(c echo.Context, status int, sent bool, problem string) error {
	lc, _, user, err := h.pendingFor(c, c.FormValue("req"))
	if user == nil {
		return err
	}
	return h.renderVerify(c, status, templates.VerifyPage{Step: templates.VerifyNeeded, Email: user.Email,
		ClientName: plumbing.ClientName(lc.client), RequestID: lc.req.ID, MailOn: h.cfg.SelfService.ResetEnabled(),
		Sent: sent, Problem: problem})
}

// VerifyNeeded sends the confirmation link (action=send) or continues the
// request (action=continue), which gets its code only once the address is
// verified.
func (h *Handlers) VerifyNeeded(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	lc, sess, user, err := h.pendingFor(c, c.FormValue("req"))
	if user == nil {
		return err
	}
	ctx := c.Request().Context()
	switch c.FormValue("action") {
	case "send":
		if !h.cfg.SelfService.ResetEnabled() {
			return echo.ErrNotFound
		}
		wait, err := h.throttle.Request(ctx, "verify", user.ID, c.RealIP(), verifyNeedPerUser, verifyNeedPerIP)
		if err != nil {
			return err
		}
		if wait > 0 {
			setRetryAfter(c, wait)
			return h.verifyNeeded(c, http.StatusTooManyRequests, false, "A link was sent a moment ago. "+tooManyText(wait))
		}
		if err := h.cfg.SelfService.RequestVerification(ctx, user.ID, user.Email); err != nil {
			return err
		}
		h.site.RecordAs(c, user.Email, "email.verification_sent", user.ID, "client="+lc.client.ID)
		return h.verifyNeeded(c, http.StatusOK, true, "")
	case "continue":
		if !user.EmailVerified {
			return h.verifyNeeded(c, http.StatusBadRequest, false,
				"Your address is not confirmed yet: open the link in the mail, press the button there, then continue.")
		}
		return h.auth.Resumed(c, lc.req.ID, sess, user)
	}
	return echo.NewHTTPError(http.StatusBadRequest)
}
