package templates

import "io"

// AdminUpstream is one row of the upstreams table: another provider people
// may sign in with. URL is its page (/admin/upstreams/{id}); RedirectURI
// is what the operator registers for idp at the upstream. The client
// secret is never here, only whether there is one.
type AdminUpstream struct {
	ID, Name, URL, Kind, Issuer, ClientID, Scopes, Domains, RedirectURI, Created string
	// RolesClaim, RolesPrefix and RequiredGroup are the claim mapping,
	// empty when unset.
	RolesClaim, RolesPrefix, RequiredGroup string
	HasSecret, LinkByEmail, JIT            bool
	// Endpoint is where idp reaches it: the issuer (oidc), the
	// authorization URL (oauth2) or the GitHub server (github).
	Endpoint string
	// ClaimMapping is the mapping of sub, email, email_verified and name,
	// as --claim-mapping takes it; empty: the kind's defaults.
	ClaimMapping string
	// Linked is how many idp accounts are linked through it.
	Linked int64
}

// AdminUpstreamForm is what an upstream form holds: the create form of
// the list page and the edit form of an upstream's page (which has no ID
// field). A refused form is shown again with what was typed, except the
// secret, which no page ever carries. Fields post under the same names
// (scopes space separated, allowed_domains space or comma separated,
// checkboxes as "1").
type AdminUpstreamForm struct {
	ID, Name, Issuer, ClientID, Scopes, AllowedDomains string
	RolesClaim, RolesPrefix, RequiredGroup             string
	LinkByEmail, JIT                                   bool
	// Kind is oidc, oauth2 or github (chosen at creation only); AuthURL,
	// TokenURL and UserinfoURL are an oauth2 upstream's endpoints,
	// GitHubURL a GitHub Enterprise Server (empty: github.com).
	Kind, AuthURL, TokenURL, UserinfoURL, GitHubURL string
	// ClaimMapping is FIELD=CLAIM,... for sub, email, email_verified and
	// name (posted as claim_mapping).
	ClaimMapping string
}

// AdminUpstreamFields is what the fields the create and edit forms share
// need (admin_upstream_fields.html): the form, the prefix of their element
// ids, and the kind whose endpoints to offer ("": every kind's).
type AdminUpstreamFields struct {
	Form         AdminUpstreamForm
	Prefix, Kind string
}

// Fields is f's shared fields under id prefix, for kind.
func (f AdminUpstreamForm) Fields(prefix, kind string) AdminUpstreamFields {
	return AdminUpstreamFields{Form: f, Prefix: prefix, Kind: kind}
}

// AdminUpstreamsPage lists the upstreams. Its form posts to
// /admin/upstreams: csrf_token, id, name, kind, issuer, auth_url,
// token_url, userinfo_url, github_url, client_id, secret
// (empty: a public client), scopes, allowed_domains, link_by_email,
// jit, claim_mapping, roles_claim, roles_prefix and required_group.
type AdminUpstreamsPage struct {
	AdminBase
	Upstreams []AdminUpstream
	// Form holds what a refused create form carried, so it is not lost.
	Form AdminUpstreamForm
}

// AdminUpstreamPage is one upstream. Its edit form posts csrf_token and
// every field of AdminUpstreamForm but id to URL, plus secret (empty:
// keep the current one) and remove_secret=1 (make it a public client);
// its delete form posts to URL/delete (confirmed first).
type AdminUpstreamPage struct {
	AdminBase
	ID, URL, Kind, RedirectURI, Created, Updated string
	// HasSecret says idp authenticates at the upstream with a secret.
	HasSecret bool
	Form      AdminUpstreamForm
}

// AdminUpstreams renders the upstreams page.
func (s *Set) AdminUpstreams(w io.Writer, p AdminUpstreamsPage) error {
	return s.render(w, "admin_upstreams", p)
}

// AdminUpstream renders one upstream's page.
func (s *Set) AdminUpstream(w io.Writer, p AdminUpstreamPage) error {
	return s.render(w, "admin_upstream", p)
}
