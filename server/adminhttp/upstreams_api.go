package adminhttp

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/upstreams"
)

// upstreamSpecJSON is the body of POST /api/admin/upstreams, in the
// names of admin.Upstream; secret (absent or "": a public client) is never
// returned.
type upstreamSpecJSON struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	Issuer         string   `json:"issuer"`
	AuthURL        string   `json:"auth_url"`
	TokenURL       string   `json:"token_url"`
	UserinfoURL    string   `json:"userinfo_url"`
	GitHubURL      string   `json:"github_url"`
	ClaimMapping   string   `json:"claim_mapping"`
	ClientID       string   `json:"client_id"`
	Secret         string   `json:"secret"`
	Scopes         []string `json:"scopes"`
	AllowedDomains []string `json:"allowed_domains"`
	LinkByEmail    bool     `json:"link_by_email"`
	JIT            bool     `json:"jit"`
	RolesClaim     string   `json:"roles_claim"`
	RolesPrefix    string   `json:"roles_prefix"`
	RequiredGroup  string   `json:"required_group"`
}

// spec is the upstreams.Spec of the body; a claim_mapping that does not
// parse is *admin.InvalidError.
func (b upstreamSpecJSON) spec() (upstreams.Spec, error) {
	spec := upstreams.Spec{ID: b.ID, Name: b.Name, Kind: b.Kind, Issuer: b.Issuer, AuthURL: b.AuthURL,
		TokenURL: b.TokenURL, UserinfoURL: b.UserinfoURL, GitHubURL: b.GitHubURL, ClientID: b.ClientID, Secret: b.Secret,
		Scopes: b.Scopes, AllowedDomains: b.AllowedDomains, LinkByEmail: b.LinkByEmail, JIT: b.JIT,
		Claims: upstreams.ClaimMapping{RolesClaim: b.RolesClaim, RolesPrefix: b.RolesPrefix, RequiredGroup: b.RequiredGroup}}
	return spec, mapClaims(&spec.Claims, b.ClaimMapping)
}

// upstreamPatchJSON is the body of PATCH /api/admin/upstreams/{id}: a
// field that is present (and not null) replaces the stored one, an
// absent one stays. "secret": "" removes the secret (a public client);
// an absent secret keeps it.
type upstreamPatchJSON struct {
	Name        *string `json:"name"`
	Issuer      *string `json:"issuer"`
	AuthURL     *string `json:"auth_url"`
	TokenURL    *string `json:"token_url"`
	UserinfoURL *string `json:"userinfo_url"`
	GitHubURL   *string `json:"github_url"`
	ClientID    *string `json:"client_id"`
	// ClaimMapping changes the fields it names ("name=" restores the
	// default), the others stay, as `idp upstreams update --claim-mapping`.
	ClaimMapping   *string   `json:"claim_mapping"`
	Secret         *string   `json:"secret"`
	Scopes         *[]string `json:"scopes"`
	AllowedDomains *[]string `json:"allowed_domains"`
	LinkByEmail    *bool     `json:"link_by_email"`
	JIT            *bool     `json:"jit"`
	RolesClaim     *string   `json:"roles_claim"`
	RolesPrefix    *string   `json:"roles_prefix"`
	RequiredGroup  *string   `json:"required_group"`
}

// update is the upstreams.Update of the patch; ok is false when it names
// nothing to change.
func (b upstreamPatchJSON) update() (up upstreams.Update, ok bool) {
	up = upstreams.Update{Name: b.Name, Issuer: b.Issuer, ClientID: b.ClientID, Secret: b.Secret,
		Scopes: b.Scopes, AllowedDomains: b.AllowedDomains, LinkByEmail: b.LinkByEmail, JIT: b.JIT,
		RolesClaim: b.RolesClaim, RolesPrefix: b.RolesPrefix, RequiredGroup: b.RequiredGroup,
		AuthURL: b.AuthURL, TokenURL: b.TokenURL, UserinfoURL: b.UserinfoURL, GitHubURL: b.GitHubURL, Mapping: b.ClaimMapping}
	return up, b != upstreamPatchJSON{}
}

// APIUpstreams lists the upstreams (GET /api/admin/upstreams).
func (h *Handlers) APIUpstreams(c echo.Context) error {
	list, err := h.admin.UpstreamViews(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"upstreams": list})
}

// APIUpstream returns one upstream (GET /api/admin/upstreams/{id}).
func (h *Handlers) APIUpstream(c echo.Context) error {
	u, err := h.admin.Upstream(c.Request().Context(), c.Param("id"))
	if err != nil {
		return apiFail(err, "no such upstream", "conflict")
	}
	return h.upstreamReply(c, u)
}

// APICreateUpstream adds an upstream from a JSON upstreamSpecJSON: 201
// with the upstream (its redirect_uri to register there). A taken id is
// 409, a broken rule 400 with every problem.
func (h *Handlers) APICreateUpstream(c echo.Context) error {
	var body upstreamSpecJSON
	if err := decodeResourceJSON(c, &body, "upstream"); err != nil {
		return err
	}
	spec, err := body.spec()
	var u *upstreams.Upstream
	if err == nil {
		u, err = h.admin.CreateUpstream(c.Request().Context(), actor(c), spec)
	}
	if err != nil {
		return apiFail(err, "", "conflict")
	}
	return c.JSON(http.StatusCreated, map[string]any{"upstream": h.admin.UpstreamView(u, 0)})
}

// APIUpdateUpstream changes an upstream (PATCH /api/admin/upstreams/{id})
// from a JSON upstreamPatchJSON; a body that changes nothing is 400.
func (h *Handlers) APIUpdateUpstream(c echo.Context) error {
	var body upstreamPatchJSON
	if err := decodeResourceJSON(c, &body, "upstream update"); err != nil {
		return err
	}
	up, ok := body.update()
	if !ok {
		return apiError(http.StatusBadRequest, "invalid_request", "nothing to change")
	}
	u, err := h.admin.UpdateUpstream(c.Request().Context(), actor(c), c.Param("id"), up)
	if err != nil {
		return apiFail(err, "no such upstream", "conflict")
	}
	return h.upstreamReply(c, u)
}

// APIDeleteUpstream deletes an upstream and its account links (DELETE
// /api/admin/upstreams/{id}); the users stay.
func (h *Handlers) APIDeleteUpstream(c echo.Context) error {
	if err := h.admin.DeleteUpstream(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return apiFail(err, "no such upstream", "conflict")
	}
	return c.NoContent(http.StatusNoContent)
}

// upstreamReply answers with upstream u and its count of linked accounts.
func (h *Handlers) upstreamReply(c echo.Context, u *upstreams.Upstream) error {
	counts, err := h.admin.UpstreamLinkCounts(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"upstream": h.admin.UpstreamView(u, counts[u.ID])})
}
