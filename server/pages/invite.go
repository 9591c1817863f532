package pages

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/selfservice"
	"idp/server/plumbing"
	"idp/templates"
	"idp/users"
)

// InvitePage opens an invitation link: the form to choose a password, or
// a page saying the invitation does not work. Looking does not use it.
func (h *Handlers) InvitePage(c echo.Context) error {
	if h.cfg.SelfService == nil {
		return echo.ErrNotFound
	}
	token := c.QueryParam("token")
	if _, err := h.cfg.SelfService.CheckInvitation(c.Request().Context(), token); err != nil {
		return h.inviteFailed(c, err)
	}
	return h.renderReset(c, http.StatusOK, templates.ResetPage{Step: templates.ResetChoose, Token: token, Invite: true})
}

// Invite sets the invitee's first password (the users policy applies)
// and confirms their address; nobody is signed in.
func (h *Handlers) Invite(c echo.Context) error {
	if h.cfg.SelfService == nil {
		return echo.ErrNotFound
	}
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	token, password := c.FormValue("token"), c.FormValue("password")
	if _, err := h.cfg.SelfService.CheckInvitation(ctx, token); err != nil {
		return h.inviteFailed(c, err)
	}
	choose := templates.ResetPage{Step: templates.ResetChoose, Token: token, Invite: true}
	if password != c.FormValue("confirm") {
		choose.Error = "The two passwords differ. Type the same password twice."
		return h.renderReset(c, http.StatusBadRequest, choose)
	}
	u, err := h.cfg.SelfService.CompleteInvitation(ctx, token, password)
	if errors.Is(err, users.ErrWeakPassword) {
		choose.Error = sentence(err.Error())
		return h.renderReset(c, http.StatusBadRequest, choose)
	}
	if err != nil {
		return h.inviteFailed(c, err)
	}
	h.site.Log.Info("invitation accepted", "request_id", plumbing.RequestIDOf(c), "user", u.ID)
	h.site.RecordAs(c, u.Email, "user.invitation_accepted", u.ID, "email verified")
	return h.renderReset(c, http.StatusOK, templates.ResetPage{Step: templates.ResetDone, Invite: true})
}

// inviteFailed answers an invitation that does not work.
func (h *Handlers) inviteFailed(c echo.Context, err error) error {
	if errors.Is(err, selfservice.ErrInvalidLink) {
		return h.renderReset(c, http.StatusBadRequest, templates.ResetPage{Step: templates.ResetInvalid, Invite: true})
	}
	return err
}
