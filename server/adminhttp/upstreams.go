package adminhttp

import (
	"cmp"
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
func (h *Handlers) upstreamRow(u *upstreams.Upstream, linked int64) templates.AdminUpstream {
	created := admin.Time{Time: u.CreatedAt}
	return templates.AdminUpstream{ID: u.ID, Name: u.Name, URL: upstreamURL(u.ID), Kind: u.Kind, Issuer: u.Issuer,
		ClientID: u.ClientID, Scopes: strings.Join(u.Scopes, " "), Domains: strings.Join(u.AllowedDomains, ", "),
		RedirectURI: h.admin.UpstreamRedirectURI(u.ID), Created: fmtTime(&created), RolesClaim: u.Claims.RolesClaim,
		RolesPrefix: u.Claims.RolesPrefix, RequiredGroup: u.Claims.RequiredGroup, HasSecret: len(u.SecretSealed) > 0,
		LinkByEmail: u.LinkByEmail, JIT: u.JIT, Endpoint: upstreamEndpoint(u), ClaimMapping: admin.FieldMapping(u.Claims),
		Linked: linked}
}

// upstreamEndpoint is where idp finds an upstream, for the list: the
// issuer of an OpenID provider, the authorization URL of a plain OAuth
// 2.0 one, the server of a GitHub preset.
func upstreamEndpoint(u *upstreams.Upstream) string {
	switch u.Kind {
	case upstreams.KindOAuth2:
		return u.AuthURL
	case upstreams.KindGitHub:
		return cmp.Or(u.GitHubURL, "https://github.com")
	}
	return u.Issuer
}

// upstreamFormOf fills the form with an upstream's stored settings.
func upstreamFormOf(u *upstreams.Upstream) templates.AdminUpstreamForm {
	return templates.AdminUpstreamForm{ID: u.ID, Name: u.Name, Issuer: u.Issuer, ClientID: u.ClientID,
		Scopes: strings.Join(u.Scopes, " "), AllowedDomains: strings.Join(u.AllowedDomains, " "),
		RolesClaim: u.Claims.RolesClaim, RolesPrefix: u.Claims.RolesPrefix, RequiredGroup: u.Claims.RequiredGroup,
		LinkByEmail: u.LinkByEmail, JIT: u.JIT, Kind: u.Kind, AuthURL: u.AuthURL, TokenURL: u.TokenURL,
		UserinfoURL: u.UserinfoURL, GitHubURL: u.GitHubURL, ClaimMapping: admin.FieldMapping(u.Claims)}
}

// upstreamFormFrom reads a posted upstream form (create or edit; the
// secret is read apart, so it is never put back into a page). An absent
// checkbox is false: the browser posts every field of the form.
func upstreamFormFrom(f url.Values) templates.AdminUpstreamForm {
	v := func(name string) string { return strings.TrimSpace(f.Get(name)) }
	return templates.AdminUpstreamForm{ID: v("id"), Name: v("name"), Issuer: v("issuer"), ClientID: v("client_id"),
		Scopes: v("scopes"), AllowedDomains: v("allowed_domains"), RolesClaim: v("roles_claim"),
		RolesPrefix: v("roles_prefix"), RequiredGroup: v("required_group"),
		LinkByEmail: f.Get("link_by_email") == "1", JIT: f.Get("jit") == "1", Kind: v("kind"),
		AuthURL: v("auth_url"), TokenURL: v("token_url"), UserinfoURL: v("userinfo_url"), GitHubURL: v("github_url"),
		ClaimMapping: v("claim_mapping")}
}

// domainList splits allowed domains typed with spaces or commas.
func domainList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// upstreamSpecOf is the Spec a create form asks for; a claim mapping
// that does not parse is *admin.InvalidError, shown on the form.
func upstreamSpecOf(form templates.AdminUpstreamForm, secret string) (upstreams.Spec, error) {
	spec := upstreams.Spec{ID: form.ID, Name: form.Name, Kind: form.Kind, Issuer: form.Issuer, ClientID: form.ClientID,
		AuthURL: form.AuthURL, TokenURL: form.TokenURL, UserinfoURL: form.UserinfoURL, GitHubURL: form.GitHubURL,
		Secret: secret, Scopes: strings.Fields(form.Scopes), AllowedDomains: domainList(form.AllowedDomains),
		LinkByEmail: form.LinkByEmail, JIT: form.JIT,
		Claims: upstreams.ClaimMapping{RolesClaim: form.RolesClaim, RolesPrefix: form.RolesPrefix, RequiredGroup: form.RequiredGroup}}
	return spec, mapClaims(&spec.Claims, form.ClaimMapping)
}

// mapClaims applies a claim mapping typed as --claim-mapping takes it
// ("sub=id,email=mail") onto m; roles there must agree with m's roles
// claim. The upstreams package's words become *admin.InvalidError.
func mapClaims(m *upstreams.ClaimMapping, text string) error {
	fields, err := parseMapping(text)
	if err != nil {
		return err
	}
	if r, ok := fields[upstreams.FieldRoles]; ok && m.RolesClaim != "" && m.RolesClaim != r {
		return &admin.InvalidError{Reason: "roles=" + r + " in the claim mapping contradicts the roles claim " + m.RolesClaim}
	}
	m.Map(fields)
	return nil
}

// parseMapping reads a claim mapping typed as --claim-mapping takes it;
// the upstreams package's words become *admin.InvalidError, as the
// service's own refusal of the same text would be.
func parseMapping(text string) (map[string]string, error) {
	fields, err := upstreams.ParseClaimMapping(text)
	if err != nil {
		return nil, &admin.InvalidError{Reason: strings.TrimPrefix(err.Error(), upstreams.ErrInvalid.Error()+": ")}
	}
	return fields, nil
}

// upstreamUpdateOf is the Update an edit form asks for: every field of
// the form replaces the stored one; the secret is decided by the caller.
// The claim mapping is parsed here, once: a mapping that does not parse
// is *admin.InvalidError, shown on the form.
func upstreamUpdateOf(form templates.AdminUpstreamForm) (upstreams.Update, error) {
	fields, err := parseMapping(form.ClaimMapping)
	if err != nil {
		return upstreams.Update{}, err
	}
	scopes, domains, mapping := strings.Fields(form.Scopes), domainList(form.AllowedDomains), wholeMapping(fields)
	return upstreams.Update{Name: &form.Name, Issuer: &form.Issuer, ClientID: &form.ClientID,
		Scopes: &scopes, AllowedDomains: &domains, LinkByEmail: &form.LinkByEmail, JIT: &form.JIT,
		RolesClaim: &form.RolesClaim, RolesPrefix: &form.RolesPrefix, RequiredGroup: &form.RequiredGroup,
		AuthURL: &form.AuthURL, TokenURL: &form.TokenURL, UserinfoURL: &form.UserinfoURL, GitHubURL: &form.GitHubURL,
		Mapping: &mapping}, nil
}

// wholeMapping is parsed form fields as the text Update takes, naming
// every field: one the form left out is "FIELD=", the kind's default, as
// the form replaces the whole mapping while Update keeps what its text
// does not name. roles is named only when typed, since its own field
// (RolesClaim) sets it; Update refuses a roles entry that contradicts it.
func wholeMapping(fields map[string]string) string {
	parts := make([]string, 0, len(upstreams.MappingFields))
	for _, f := range upstreams.MappingFields {
		if claim, given := fields[f]; given || f != upstreams.FieldRoles {
			parts = append(parts, f+"="+claim)
		}
	}
	return strings.Join(parts, ",")
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
	counts, err := h.admin.UpstreamLinkCounts(c.Request().Context())
	if err != nil {
		return err
	}
	page := templates.AdminUpstreamsPage{AdminBase: h.adminBase(c, "upstreams", "Upstreams"), Form: form}
	page.Error = problem
	for _, u := range list {
		page.Upstreams = append(page.Upstreams, h.upstreamRow(u, counts[u.ID]))
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
	spec, err := upstreamSpecOf(form, c.Request().PostForm.Get("secret"))
	var u *upstreams.Upstream
	if err == nil {
		u, err = h.admin.CreateUpstream(c.Request().Context(), actor(c), spec)
	}
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
