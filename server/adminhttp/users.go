package adminhttp

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/templates"
)

// UsersPage lists the users, with the form that creates one.
func (h *Handlers) UsersPage(c echo.Context) error {
	return h.renderAdminUsers(c, http.StatusOK, "")
}

func (h *Handlers) renderAdminUsers(c echo.Context, status int, problem string) error {
	list, err := h.admin.Users(c.Request().Context())
	if err != nil {
		return err
	}
	page := templates.AdminUsersPage{AdminBase: h.adminBase(c, "users", "Users")}
	page.Error = problem
	for _, u := range list {
		page.Users = append(page.Users, templates.AdminUser{ID: u.ID, Email: u.Email, Name: u.Name,
			Roles: strings.Join(u.Roles, ", "), Created: fmtTime(&u.Created), Disabled: u.Disabled})
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
	_, err := h.admin.CreateUser(c.Request().Context(), actor(c), admin.NewUser{Email: c.FormValue("email"),
		Password: c.FormValue("password"), Name: c.FormValue("name"), Roles: roles})
	var invalid *admin.InvalidError
	switch {
	case errors.Is(err, admin.ErrConflict):
		return h.renderAdminUsers(c, http.StatusConflict, "A user with that email already exists.")
	case errors.As(err, &invalid):
		return h.renderAdminUsers(c, http.StatusBadRequest, "Not created: "+joinLines(err.Error())+".")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-created")
}

// DisableUser disables a user, never the admin doing it.
func (h *Handlers) DisableUser(c echo.Context) error {
	id := c.FormValue("id")
	if id == adminOf(c).ID {
		return h.renderAdminUsers(c, http.StatusBadRequest, "You cannot disable your own account.")
	}
	_, err := h.admin.DisableUser(c.Request().Context(), actor(c), admin.UserRef{ID: id})
	switch {
	case errors.Is(err, admin.ErrNotFound):
		return c.Redirect(http.StatusSeeOther, "/admin/users?notice=nothing-changed")
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-disabled")
}
