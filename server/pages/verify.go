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
