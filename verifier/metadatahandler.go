package verifier

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// MetadataHandler serves one ResourceMetadata document at its well-known
// path. Build it with NewMetadataHandler and mount it where Path says,
// outside Middleware: clients read it before they have a token.
type MetadataHandler struct {
	doc         []byte // the JSON document
	path, query string // escaped path and raw query it answers on
	url         string // MetadataURL(Resource)
}

// NewMetadataHandler checks m and prepares its JSON. The document is
// answered only at MetadataURL(m.Resource), because a client that fetched
// it from elsewhere must discard it (RFC 9728 §3.3: resource has to be the
// identifier the URL was built from); that also stops a mux pattern that
// is too wide from publishing it for other resources.
func NewMetadataHandler(m ResourceMetadata) (*MetadataHandler, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("resource metadata: %w", err)
	}
	doc, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("resource metadata: %w", err)
	}
	u, _ := parseResource(m.Resource) // checked by validate
	mu, _ := MetadataURL(m.Resource)
	return &MetadataHandler{doc: doc, path: metadataPath(u), query: u.RawQuery, url: mu}, nil
}

// Path is the (escaped) path to mount the handler on, e.g.
// "/.well-known/oauth-protected-resource/orders":
//
//	mux.Handle(h.Path(), h) // no method in the pattern: CORS preflights reach it too
func (h *MetadataHandler) Path() string { return h.path }

// URL is the document's absolute URL, the one Middleware names in its
// challenges when Config.Resource is the same resource.
func (h *MetadataHandler) URL() string { return h.url }

// ServeHTTP answers GET and HEAD with the document as application/json
// (RFC 9728 §3.2). It is public, so any origin may read it (CORS), which
// browser-based clients need; a preflight is answered too.
func (h *MetadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.EscapedPath() != h.path || r.URL.RawQuery != h.query {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		hd.Set("Access-Control-Allow-Methods", "GET, HEAD")
		hd.Set("Access-Control-Allow-Headers", "*")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hd.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd.Set("Content-Type", "application/json")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(h.doc)
}

// ResourceMetadata is a starting document for the resource in
// Config.Resource: idp (Config.Issuer) as its authorization server and
// bearer tokens in the Authorization header, the only method Middleware
// accepts. Add scopes, a name and links, then pass it to
// NewMetadataHandler.
func (v *Verifier) ResourceMetadata() ResourceMetadata {
	return ResourceMetadata{
		Resource:               v.cfg.Resource,
		AuthorizationServers:   []string{v.cfg.Issuer},
		BearerMethodsSupported: []string{"header"},
	}
}
