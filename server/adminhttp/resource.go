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

// resourceOf finds the resource of the path's id; unknown is a 404 page.
func (h *Handlers) resourceOf(c echo.Context) (admin.Resource, error) {
	uri, err := resourceParam(c)
	if err != nil {
		return admin.Resource{}, err
	}
	r, err := h.admin.Resource(c.Request().Context(), uri)
	if errors.Is(err, admin.ErrNotFound) {
		return admin.Resource{}, echo.NewHTTPError(http.StatusNotFound)
	}
	return r, err
}

// ResourcePage shows one resource's registration as a form.
func (h *Handlers) ResourcePage(c echo.Context) error {
	r, err := h.resourceOf(c)
	if err != nil {
		return err
	}
	return h.renderResource(c, http.StatusOK, r, "", "")
}

func (h *Handlers) renderResource(c echo.Context, status int, r admin.Resource, problem, newSecret string) error {
	page := templates.AdminResourcePage{AdminBase: h.adminBase(c, "resources", r.URI), URI: r.URI, Name: r.Name,
		URL: resourceURL(r.URI), Alg: r.SigningAlg, Scopes: strings.Join(r.Scopes, " "), Created: fmtTime(&r.Created),
		Updated: fmtTime(&r.Updated), Lifetime: r.AccessTokenTTL, Introspects: r.Introspects, NewSecret: newSecret}
	page.Error = problem
	if newSecret != "" {
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminResource(w, page) })
}

// UpdateResourceForm saves the resource page's form: every field of the
// form replaces the resource's value; its credentials stay.
func (h *Handlers) UpdateResourceForm(c echo.Context) error {
	r, err := h.resourceOf(c)
	if err != nil {
		return err
	}
	if err := c.Request().ParseForm(); err != nil {
		return h.renderResource(c, http.StatusBadRequest, r, "The form is malformed.", "")
	}
	f := c.Request().PostForm
	ttl, ok := ttlField(f.Get("access_token_ttl"))
	if !ok {
		return h.renderResource(c, http.StatusBadRequest, r, "Not saved: the access token lifetime must be a whole number of seconds.", "")
	}
	name, alg, scopes := strings.TrimSpace(f.Get("name")), f.Get("signing_alg"), strings.Fields(f.Get("scopes"))
	_, err = h.admin.UpdateResource(c.Request().Context(), actor(c), r.URI,
		admin.ResourceUpdate{Name: &name, Scopes: &scopes, SigningAlg: &alg, AccessTokenTTL: &ttl})
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return h.renderResource(c, http.StatusBadRequest, r, "Not saved: "+joinLines(err.Error()), "")
	case errors.Is(err, admin.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, resourceURL(r.URI)+"?notice=resource-updated")
}

// RegenerateResourceSecret gives a resource a new introspection secret
// after a confirmation, and shows it once.
func (h *Handlers) RegenerateResourceSecret(c echo.Context) error {
	r, err := h.resourceOf(c)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		msg := "The current secret stops working at once: the API's introspection calls fail until it is given the new one."
		if !r.Introspects {
			msg = "The resource gets credentials for the introspection endpoint, shown once."
		}
		page := templates.AdminConfirmPage{AdminBase: h.adminBase(c, "resources", "Regenerate secret"),
			Heading: "Regenerate the introspection secret of " + r.URI + "?", Message: msg,
			Action: resourceURL(r.URI) + "/secret", ConfirmLabel: "Regenerate secret", Danger: r.Introspects,
			CancelURL: resourceURL(r.URI)}
		return h.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return h.site.Templates.AdminConfirm(w, page) })
	}
	secret, err := h.admin.RegenerateResourceSecret(c.Request().Context(), actor(c), r.URI)
	switch {
	case errors.Is(err, admin.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return err
	}
	r.Introspects = true
	return h.renderResource(c, http.StatusOK, r, "", secret)
}

// DeleteResource deletes a resource after a confirmation.
func (h *Handlers) DeleteResource(c echo.Context) error {
	r, err := h.resourceOf(c)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		page := templates.AdminConfirmPage{AdminBase: h.adminBase(c, "resources", "Delete resource"),
			Heading: "Delete the resource " + r.URI + "?",
			Message: "Tokens already issued for it stay valid until they expire, but none is issued for it again and its introspection secret stops working.",
			Action:  resourceURL(r.URI) + "/delete", ConfirmLabel: "Delete resource", Danger: true, CancelURL: resourceURL(r.URI)}
		return h.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return h.site.Templates.AdminConfirm(w, page) })
	}
	err = h.admin.DeleteResource(c.Request().Context(), actor(c), r.URI)
	if err != nil && !errors.Is(err, admin.ErrNotFound) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/resources?notice=resource-deleted")
}
