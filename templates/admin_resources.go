package templates

import "io"

// AdminResource is one row of the resources table. URL is the resource's
// page, its URI path-escaped (/admin/resources/{escaped}); Lifetime and
// Alg are preformatted, empty for the provider's or the client's.
type AdminResource struct {
	URI, Name, URL, Alg, Lifetime, Scopes, Created string
	// Introspects says it has credentials for the introspection endpoint.
	Introspects bool
}

// AdminResourcesPage lists the registered resources (APIs). Its form posts
// to /admin/resources: csrf_token, id (the URI), name, scopes (space
// separated), signing_alg ("", RS256 or ES256), access_token_ttl
// (seconds, empty or 0 for the provider's) and no_secret=1.
type AdminResourcesPage struct {
	AdminBase
	Resources []AdminResource
	// NewURI and NewSecret: the resource just created and its
	// introspection secret, shown once.
	NewURI, NewSecret string
	// Form holds what a refused create form carried, so it is not lost.
	Form AdminResourceForm
}

// AdminResourceForm is what a create form was filled with.
type AdminResourceForm struct {
	URI, Name, Scopes, Alg, Lifetime string
	NoSecret                         bool
}

// AdminResourcePage is one resource. Its forms post csrf_token to URL
// (name, scopes, signing_alg, access_token_ttl), to URL/secret (a new
// introspection secret, confirmed first) and to URL/delete (confirmed
// first).
type AdminResourcePage struct {
	AdminBase
	URI, Name, URL, Alg, Scopes, Created, Updated string
	// Lifetime is in seconds, 0 for the provider's.
	Lifetime    int64
	Introspects bool
	NewSecret   string // shown once after a regeneration
}

// AdminResources renders the resources page.
func (s *Set) AdminResources(w io.Writer, p AdminResourcesPage) error {
	return s.render(w, "admin_resources", p)
}

// AdminResource renders one resource's page.
func (s *Set) AdminResource(w io.Writer, p AdminResourcePage) error {
	return s.render(w, "admin_resource", p)
}
