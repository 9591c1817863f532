package adminhttp

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/admin"
)

// InviteUser creates an account without a password from the invitation
// form and mails the invitee a link to set one.
func (h *Handlers) InviteUser(c echo.Context) error {
	if !h.cfg.MailEnabled {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	_, err := h.admin.InviteUser(c.Request().Context(), actor(c), admin.NewUser{Email: c.FormValue("email"),
		Name: c.FormValue("name"), Roles: splitRoles(c.FormValue("roles"))})
	var invalid *admin.InvalidError
	switch {
	case errors.Is(err, admin.ErrConflict):
		return h.renderAdminUsers(c, http.StatusConflict, "A user with that email already exists.")
	case errors.As(err, &invalid):
		return h.renderAdminUsers(c, http.StatusBadRequest, "Not invited: "+joinLines(err.Error())+".")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-invited")
}

// SendUserReset mails the user of the page a password-reset link.
func (h *Handlers) SendUserReset(c echo.Context) error {
	id := c.Param("id")
	if !h.cfg.MailEnabled {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if _, err := h.admin.SendPasswordReset(c.Request().Context(), actor(c), admin.UserRef{ID: id}); err != nil {
		return h.pageFail(c, id, err)
	}
	return done(c, id, "reset-sent")
}

// APIInviteUser is POST /api/admin/users/invite {"email", "name", "roles"}.
func (h *Handlers) APIInviteUser(c echo.Context) error {
	var body struct {
		Email, Name string
		Roles       []string
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be JSON with email, name and roles")
	}
	u, err := h.admin.InviteUser(c.Request().Context(), actor(c), admin.NewUser{Email: body.Email, Name: body.Name, Roles: body.Roles})
	if errors.Is(err, admin.ErrNoMail) {
		return apiError(http.StatusConflict, "mail_off", "invitations need the mail flows")
	}
	if err != nil {
		return apiFail(err, "", "conflict")
	}
	return c.JSON(http.StatusCreated, u)
}

// APISendReset is POST /api/admin/users/{id}/send-reset: a reset link by
// mail (202: it is queued).
func (h *Handlers) APISendReset(c echo.Context) error {
	u, err := h.admin.SendPasswordReset(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")})
	if errors.Is(err, admin.ErrNoMail) {
		return apiError(http.StatusConflict, "mail_off", "a reset link needs the mail flows")
	}
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusAccepted, u)
}
