package adminhttp

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/templates"
	"idp/upstreams"
)

// upstreamOf finds the upstream of the path's id; unknown is a 404 page.
func (h *Handlers) upstreamOf(c echo.Context) (*upstreams.Upstream, error) {
	u, err := h.admin.Upstream(c.Request().Context(), c.Param("id"))
	if errors.Is(err, admin.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound)
	}
	return u, err
}

// UpstreamPage shows one upstream's settings as a form, and the redirect
// URI to register at it.
func (h *Handlers) UpstreamPage(c echo.Context) error {
	u, err := h.upstreamOf(c)
	if err != nil {
		return err
	}
	return h.renderUpstream(c, http.StatusOK, u, upstreamFormOf(u), "")
}

// renderUpstream shows u's page with form in its fields: the stored
// settings, or what a refused save carried.
func (h *Handlers) renderUpstream(c echo.Context, status int, u *upstreams.Upstream, form templates.AdminUpstreamForm, problem string) error {
	created, updated := admin.Time{Time: u.CreatedAt}, admin.Time{Time: u.UpdatedAt}
	page := templates.AdminUpstreamPage{AdminBase: h.adminBase(c, "upstreams", u.ID), ID: u.ID, URL: upstreamURL(u.ID),
		Kind: u.Kind, RedirectURI: h.admin.UpstreamRedirectURI(u.ID), Created: fmtTime(&created), Updated: fmtTime(&updated),
		HasSecret: len(u.SecretSealed) > 0, Form: form}
	page.Error = problem
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminUpstream(w, page) })
}

// UpdateUpstreamForm saves an upstream's page: every field replaces the
// stored one. The secret is write-only: an empty field keeps it, a new
// value replaces it and remove_secret=1 makes idp a public client there.
func (h *Handlers) UpdateUpstreamForm(c echo.Context) error {
	u, err := h.upstreamOf(c)
	if err != nil {
		return err
	}
	if err := c.Request().ParseForm(); err != nil {
		return h.renderUpstream(c, http.StatusBadRequest, u, upstreamFormOf(u), "The form is malformed.")
	}
	f := c.Request().PostForm
	form := upstreamFormFrom(f)
	secret, remove := f.Get("secret"), f.Get("remove_secret") == "1"
	if secret != "" && remove {
		return h.renderUpstream(c, http.StatusBadRequest, u, form,
			"Not saved: either type a new client secret or remove the secret, not both.")
	}
	up, err := upstreamUpdateOf(form)
	if err == nil {
		switch {
		case remove:
			none := ""
			up.Secret = &none
		case secret != "":
			up.Secret = &secret
		}
		_, err = h.admin.UpdateUpstream(c.Request().Context(), actor(c), u.ID, up)
	}
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return h.renderUpstream(c, http.StatusBadRequest, u, form, "Not saved: "+joinLines(err.Error()))
	case errors.Is(err, admin.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, upstreamURL(u.ID)+"?notice=upstream-updated")
}

// DeleteUpstream deletes an upstream after a confirmation that says what
// goes (its button and its account links) and what stays (the users).
func (h *Handlers) DeleteUpstream(c echo.Context) error {
	u, err := h.upstreamOf(c)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		page := templates.AdminConfirmPage{AdminBase: h.adminBase(c, "upstreams", "Delete upstream"),
			Heading: "Delete the upstream " + u.ID + "?",
			Message: "Its button leaves the sign-in page and every account link to it is deleted. The users stay: " +
				"people who signed in only through it can no longer sign in until they get another way (a password reset, another upstream).",
			Action: upstreamURL(u.ID) + "/delete", ConfirmLabel: "Delete upstream", Danger: true, CancelURL: upstreamURL(u.ID)}
		return h.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return h.site.Templates.AdminConfirm(w, page) })
	}
	err = h.admin.DeleteUpstream(c.Request().Context(), actor(c), u.ID)
	if err != nil && !errors.Is(err, admin.ErrNotFound) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/upstreams?notice=upstream-deleted")
}
