package adminhttp

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/db"
	"idp/templates"
	"idp/users"
)

// UsersPage lists the users, with the form that creates one.
func (h *Handlers) UsersPage(c echo.Context) error {
	return h.renderAdminUsers(c, http.StatusOK, "")
}

func (h *Handlers) renderAdminUsers(c echo.Context, status int, problem string) error {
	list, err := h.site.Users.Store().List(c.Request().Context())
	if err != nil {
		return err
	}
	page := templates.AdminUsersPage{AdminBase: h.adminBase(c, "users", "Users")}
	page.Error = problem
	for _, u := range list {
		page.Users = append(page.Users, templates.AdminUser{ID: u.ID, Email: u.Email, Name: u.Name,
			Roles: strings.Join(u.Roles, ", "), Created: fmtTime(&u.CreatedAt), Disabled: u.Disabled})
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminUsers(w, page) })
}

// CreateUser creates a user from the form.
func (h *Handlers) CreateUser(c echo.Context) error {
	var roles []string
	for _, r := range strings.Split(c.FormValue("roles"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	u, err := h.site.Users.Create(c.Request().Context(), c.FormValue("email"), c.FormValue("password"), c.FormValue("name"), roles)
	switch {
	case errors.Is(err, users.ErrEmailTaken):
		return h.renderAdminUsers(c, http.StatusConflict, "A user with that email already exists.")
	case errors.Is(err, users.ErrInvalidEmail) || errors.Is(err, users.ErrWeakPassword):
		return h.renderAdminUsers(c, http.StatusBadRequest, "Not created: "+joinLines(err.Error())+".")
	case err != nil:
		return err
	}
	h.site.Record(c, "user.created", u.ID, "email="+u.Email)
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-created")
}

// DisableUser disables a user, never the admin doing it.
func (h *Handlers) DisableUser(c echo.Context) error {
	u, err := h.site.Users.Store().ByID(c.Request().Context(), c.FormValue("id"))
	if errors.Is(err, db.ErrNotFound) {
		return c.Redirect(http.StatusSeeOther, "/admin/users?notice=nothing-changed")
	}
	if err != nil {
		return err
	}
	if u.ID == adminOf(c).ID {
		return h.renderAdminUsers(c, http.StatusBadRequest, "You cannot disable your own account.")
	}
	if err := h.disableUser(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-disabled")
}

// disableUser disables a user and ends everything they hold: sessions and
// offline grants (their access tokens die with the family).
func (h *Handlers) disableUser(c echo.Context, u *users.User) error {
	ctx := c.Request().Context()
	if err := h.site.Users.Store().SetDisabled(ctx, u.ID, true); err != nil {
		return err
	}
	if err := h.site.Sessions.EndAll(ctx, u.ID); err != nil {
		return err
	}
	if err := h.site.Tokens.RevokeUserGrants(ctx, u.ID); err != nil {
		return err
	}
	h.site.Record(c, "user.disabled", u.ID, "email="+u.Email)
	return nil
}
