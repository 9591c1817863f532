package adminhttp

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/templates"
	"idp/upstreams"
)

// upstreamURL is the page of an upstream. Upstream ids are lowercase
// letters, digits and dashes, so they need no escaping in a path.
func upstreamURL(id string) string { return "/admin/upstreams/" + id }

// upstreamRow is an upstream as the list shows it: never the secret, only
// whether there is one.
func (h *Handlers) upstreamRow(u *upstreams.Upstream) templates.AdminUpstream {
	created := admin.Time{Time: u.CreatedAt}
	return templates.AdminUpstream{ID: u.ID, Name: u.Name, URL: upstreamURL(u.ID), Kind: u.Kind, Issuer: u.Issuer,
		ClientID: u.ClientID, Scopes: strings.Join(u.Scopes, " "), Domains: strings.Join(u.AllowedDomains, ", "),
		RedirectURI: h.admin.UpstreamRedirectURI(u.ID), Created: fmtTime(&created), RolesClaim: u.Claims.RolesClaim,
		RolesPrefix: u.Claims.RolesPrefix, RequiredGroup: u.Claims.RequiredGroup, HasSecret: len(u.SecretSealed) > 0,
		LinkByEmail: u.LinkByEmail, JIT: u.JIT}
}

// upstreamFormOf fills the form with an upstream's stored settings.
func upstreamFormOf(u *upstreams.Upstream) templates.AdminUpstreamForm {
	return templates.AdminUpstreamForm{ID: u.ID, Name: u.Name, Issuer: u.Issuer, ClientID: u.ClientID,
		Scopes: strings.Join(u.Scopes, " "), AllowedDomains: strings.Join(u.AllowedDomains, " "),
		RolesClaim: u.Claims.RolesClaim, RolesPrefix: u.Claims.RolesPrefix, RequiredGroup: u.Claims.RequiredGroup,
		LinkByEmail: u.LinkByEmail, JIT: u.JIT}
}

// upstreamFormFrom reads a posted upstream form (create or edit; the
// secret is read apart, so it is never put back into a page). An absent
// checkbox is false: the browser posts every field of the form.
func upstreamFormFrom(f url.Values) templates.AdminUpstreamForm {
	v := func(name string) string { return strings.TrimSpace(f.Get(name)) }
	return templates.AdminUpstreamForm{ID: v("id"), Name: v("name"), Issuer: v("issuer"), ClientID: v("client_id"),
		Scopes: v("scopes"), AllowedDomains: v("allowed_domains"), RolesClaim: v("roles_claim"),
		RolesPrefix: v("roles_prefix"), RequiredGroup: v("required_group"),
		LinkByEmail: f.Get("link_by_email") == "1", JIT: f.Get("jit") == "1"}
}

// domainList splits allowed domains typed with spaces or commas.
func domainList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// upstreamSpecOf is the Spec a create form asks for.
func upstreamSpecOf(form templates.AdminUpstreamForm, secret string) upstreams.Spec {
	return upstreams.Spec{ID: form.ID, Name: form.Name, Issuer: form.Issuer, ClientID: form.ClientID, Secret: secret,
		Scopes: strings.Fields(form.Scopes), AllowedDomains: domainList(form.AllowedDomains),
		LinkByEmail: form.LinkByEmail, JIT: form.JIT,
		Claims: upstreams.ClaimMapping{RolesClaim: form.RolesClaim, RolesPrefix: form.RolesPrefix, RequiredGroup: form.RequiredGroup}}
}

// upstreamUpdateOf is the Update an edit form asks for: every field of
// the form replaces the stored one; the secret is decided by the caller.
func upstreamUpdateOf(form templates.AdminUpstreamForm) upstreams.Update {
	scopes, domains := strings.Fields(form.Scopes), domainList(form.AllowedDomains)
	return upstreams.Update{Name: &form.Name, Issuer: &form.Issuer, ClientID: &form.ClientID,
		Scopes: &scopes, AllowedDomains: &domains, LinkByEmail: &form.LinkByEmail, JIT: &form.JIT,
		RolesClaim: &form.RolesClaim, RolesPrefix: &form.RolesPrefix, RequiredGroup: &form.RequiredGroup}
}

// UpstreamsPage lists the upstreams, with the form that adds one.
func (h *Handlers) UpstreamsPage(c echo.Context) error {
	return h.renderUpstreams(c, http.StatusOK, templates.AdminUpstreamForm{}, "")
}

func (h *Handlers) renderUpstreams(c echo.Context, status int, form templates.AdminUpstreamForm, problem string) error {
	list, err := h.admin.Upstreams(c.Request().Context())
	if err != nil {
		return err
	}
	page := templates.AdminUpstreamsPage{AdminBase: h.adminBase(c, "upstreams", "Upstreams"), Form: form}
	page.Error = problem
	for _, u := range list {
		page.Upstreams = append(page.Upstreams, h.upstreamRow(u))
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminUpstreams(w, page) })
}

// CreateUpstream adds an upstream from the list page's form and opens its
// page, which shows the redirect URI to register at the upstream. A
// refused form comes back with what was typed, except the secret.
func (h *Handlers) CreateUpstream(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return h.renderUpstreams(c, http.StatusBadRequest, templates.AdminUpstreamForm{}, "The form is malformed.")
	}
	form := upstreamFormFrom(c.Request().PostForm)
	u, err := h.admin.CreateUpstream(c.Request().Context(), actor(c), upstreamSpecOf(form, c.Request().PostForm.Get("secret")))
	var invalid *admin.InvalidError
	switch {
	case errors.Is(err, admin.ErrConflict):
		return h.renderUpstreams(c, http.StatusConflict, form, "Not created: an upstream with that ID already exists.")
	case errors.As(err, &invalid):
		return h.renderUpstreams(c, http.StatusBadRequest, form, "Not created: "+joinLines(err.Error()))
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, upstreamURL(u.ID)+"?notice=upstream-created")
}
