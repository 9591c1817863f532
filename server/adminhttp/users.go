package adminhttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/templates"
)

// UsersPage lists one page of users, filtered by the search q, with the
// form that creates one.
func (h *Handlers) UsersPage(c echo.Context) error {
	return h.renderAdminUsers(c, http.StatusOK, "")
}

func (h *Handlers) renderAdminUsers(c echo.Context, status int, problem string) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	offset, err := strconv.Atoi(c.QueryParam("offset"))
	if err != nil || offset < 0 {
		offset = 0
	}
	page := templates.AdminUsersPage{AdminBase: h.adminBase(c, "users", "Users"), Query: q, Invite: h.cfg.MailEnabled}
	page.Error = problem
	p, err := h.admin.SearchUsers(c.Request().Context(), admin.UserQuery{Q: q, Offset: offset})
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		page.Error, status = "Not searched: "+err.Error()+".", http.StatusBadRequest
	case err != nil:
		return err
	}
	for _, u := range p.Users {
		page.Users = append(page.Users, templates.AdminUser{ID: u.ID, Email: u.Email, Name: u.Name,
			Roles: strings.Join(u.Roles, ", "), Created: fmtTime(&u.Created), Disabled: u.Disabled, Locked: u.Locked,
			Factors: strings.Join(u.Factors, ", ")})
	}
	if len(p.Users) > 0 {
		page.Showing = fmt.Sprintf("%d–%d of %d", p.Offset+1, p.Offset+len(p.Users), p.Total)
	}
	if n := p.Prev(); n >= 0 {
		page.PrevURL = usersURL(q, n)
	}
	if n := p.Next(); n >= 0 {
		page.NextURL = usersURL(q, n)
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminUsers(w, page) })
}

// usersURL links a page of a user search.
func usersURL(q string, offset int) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

// CreateUser creates a user from the form.
func (h *Handlers) CreateUser(c echo.Context) error {
	_, err := h.admin.CreateUser(c.Request().Context(), actor(c), admin.NewUser{Email: c.FormValue("email"),
		Password: c.FormValue("password"), Name: c.FormValue("name"), Roles: splitRoles(c.FormValue("roles"))})
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

// splitRoles reads a comma-separated roles field.
func splitRoles(v string) []string {
	roles := []string{}
	for _, r := range strings.Split(v, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	return roles
}

// DisableUserForm is the older form of disabling (POST /admin/users/disable
// with id): the same confirmation and action as the user's own page.
func (h *Handlers) DisableUserForm(c echo.Context) error {
	return h.disableUser(c, c.FormValue("id"))
}
