package adminhttp

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/clients"
	"idp/templates"
)

// ClientsPage lists the clients, with the form that creates one.
func (h *Handlers) ClientsPage(c echo.Context) error {
	return h.renderAdminClients(c, http.StatusOK, "", "", "")
}

func (h *Handlers) renderAdminClients(c echo.Context, status int, problem, newID, newSecret string) error {
	list, err := h.admin.Clients(c.Request().Context())
	if err != nil {
		return err
	}
	page := templates.AdminClientsPage{AdminBase: h.adminBase(c, "clients", "Clients"), NewClientID: newID, NewSecret: newSecret,
		Registration: h.cfg.Registration}
	page.Error = problem
	if t, ok := c.Get(ctxRegistrationToken).(templates.AdminRegistrationToken); ok {
		page.NewRegistrationToken = &t
	}
	for _, cl := range list {
		kind := "confidential"
		if cl.Public {
			kind = "public"
		}
		page.Clients = append(page.Clients, templates.AdminClient{ID: cl.ID, Name: cl.Name, Type: kind, Alg: cl.SigningAlg,
			Grants: strings.Join(cl.GrantTypes, ", "), Scopes: strings.Join(cl.Scopes, " "),
			RedirectURIs: strings.Join(cl.RedirectURIs, " "), Created: fmtTime(&cl.Created), Trusted: cl.Trusted,
			RequireMFA: cl.RequireMFA, Registration: cl.Registration})
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminClients(w, page) })
}

// lines splits a textarea into its non-empty trimmed lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// CreateClient creates a client and shows its generated secret
// once, on the response page itself (never in a URL).
func (h *Handlers) CreateClient(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return h.renderAdminClients(c, http.StatusBadRequest, "The form is malformed.", "", "")
	}
	f := c.Request().PostForm
	spec := clients.Spec{
		ID: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")), Public: f.Get("public") == "1",
		RedirectURIs: lines(f.Get("redirect_uris")), PostLogoutRedirectURIs: lines(f.Get("post_logout_redirect_uris")),
		GrantTypes: f["grant_type"], Scopes: strings.Fields(f.Get("scopes")), SigningAlg: f.Get("signing_alg"),
		Trusted: f.Get("trusted") == "1", RequireMFA: f.Get("require_mfa") == "1",
		RequireVerifiedEmail: f.Get("require_verified_email") == "1",
	}
	cl, secret, err := h.admin.CreateClient(c.Request().Context(), actor(c), spec)
	var invalid *admin.InvalidError
	switch {
	case errors.Is(err, admin.ErrConflict):
		return h.renderAdminClients(c, http.StatusConflict, "A client with that id already exists.", "", "")
	case errors.As(err, &invalid):
		return h.renderAdminClients(c, http.StatusBadRequest, "Not created: "+joinLines(err.Error()), "", "")
	case err != nil:
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.renderAdminClients(c, http.StatusCreated, "", cl.ID, secret)
}

// DeleteClient deletes a client; an unknown id changes nothing.
func (h *Handlers) DeleteClient(c echo.Context) error {
	id := c.FormValue("id")
	err := h.admin.DeleteClient(c.Request().Context(), actor(c), id)
	if err != nil && !errors.Is(err, admin.ErrNotFound) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/clients?notice=client-deleted")
}
