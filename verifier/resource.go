package verifier

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// WellKnownResourcePath is the well-known URI suffix of protected resource
// metadata (RFC 9728 §3, registered in §8.3).
const WellKnownResourcePath = "/.well-known/oauth-protected-resource"

// ResourceMetadata is the OAuth 2.0 Protected Resource Metadata document
// (RFC 9728 §2) a service publishes so that clients can find the
// authorization server for its tokens. Empty fields are left out.
//
// The mutual-TLS parameter of §2 is not offered: this package does not
// verify certificate-bound tokens. The DPoP ones are, since Middleware
// verifies DPoP-bound tokens (RFC 9449).
type ResourceMetadata struct {
	// Resource is the protected resource's resource identifier: an https
	// URL with no fragment (§2, §1.2). Required. It is the value clients
	// send as RFC 8707's resource parameter and idp puts in aud.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuer identifiers (RFC 8414) of the
	// authorization servers whose tokens the resource accepts.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// JWKSURI is the resource's own public keys, for clients checking
	// responses it signs; it is not idp's JWKS.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// ScopesSupported are the scope values used in requests for the
	// resource (RECOMMENDED).
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported are the RFC 6750 ways a token may be sent:
	// "header", "body", "query". Middleware accepts only "header".
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceSigningAlgValuesSupported are the JWS algorithms the resource
	// signs its responses with.
	ResourceSigningAlgValuesSupported []string `json:"resource_signing_alg_values_supported,omitempty"`
	// ResourceName is shown to end users (RECOMMENDED).
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation, ResourcePolicyURI and ResourceTOSURI are
	// pages for developers and end users: documentation, how data is used,
	// terms of service.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
	ResourcePolicyURI     string `json:"resource_policy_uri,omitempty"`
	ResourceTOSURI        string `json:"resource_tos_uri,omitempty"`
	// DPoPSigningAlgValuesSupported are the DPoP proof algorithms the
	// resource accepts (RFC 9728 §2): dpop.AlgNames() for Middleware.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// DPoPBoundAccessTokensRequired says the resource takes only
	// DPoP-bound tokens (RFC 9728 §2): set it with Config.RequireDPoP.
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
}

// MetadataURL returns where the metadata of the resource identified by
// resource is published (RFC 9728 §3.1): the well-known suffix goes
// between the host and the path, after a terminating slash is removed, and
// any query follows it. So https://api.example.com and
// https://api.example.com/ publish at
// https://api.example.com/.well-known/oauth-protected-resource, and
// https://api.example.com/orders at
// https://api.example.com/.well-known/oauth-protected-resource/orders.
func MetadataURL(resource string) (string, error) {
	u, err := parseResource(resource)
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host + metadataPath(u) + query(u), nil
}

// metadataPath is the escaped path of a checked resource's metadata.
func metadataPath(u *url.URL) string {
	return WellKnownResourcePath + strings.TrimSuffix(u.EscapedPath(), "/")
}

// query is u's query with its "?", or "".
func query(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	return "?" + u.RawQuery
}

// parseResource checks a resource identifier (RFC 9728 §1.2, RFC 8707 §2):
// an absolute https URL with a host and no fragment or userinfo. Plain
// http is accepted on a loopback host only, for development.
func parseResource(resource string) (*url.URL, error) {
	u, err := url.Parse(resource)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("resource %q must be an absolute URL with a host", resource)
	case strings.Contains(resource, "#") || u.User != nil:
		return nil, fmt.Errorf("resource %q must not have a fragment or userinfo (RFC 9728 §1.2)", resource)
	case u.Scheme == "https", u.Scheme == "http" && isLoopback(u.Hostname()):
		return u, nil
	}
	return nil, fmt.Errorf("resource %q must use https (plain http only on a loopback host)", resource)
}

// isLoopback reports whether host (no brackets) is this machine.
func isLoopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return strings.EqualFold(host, "localhost") || err == nil && a.IsLoopback()
}

// validate checks m as a document this package will serve, returning every
// problem.
func (m ResourceMetadata) validate() error {
	var errs []error
	if _, err := parseResource(m.Resource); err != nil {
		errs = append(errs, err)
	}
	for _, as := range m.AuthorizationServers {
		if u, err := url.Parse(as); err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("authorization server %q must be an issuer identifier: a URL with no query or fragment (RFC 8414 §2)", as))
		}
	}
	for _, b := range m.BearerMethodsSupported {
		if !slices.Contains([]string{"header", "body", "query"}, b) {
			errs = append(errs, fmt.Errorf("bearer method %q must be header, body or query (RFC 9728 §2)", b))
		}
	}
	links := [][2]string{{"jwks_uri", m.JWKSURI}, {"resource_documentation", m.ResourceDocumentation},
		{"resource_policy_uri", m.ResourcePolicyURI}, {"resource_tos_uri", m.ResourceTOSURI}}
	for _, l := range links {
		if u, err := url.Parse(l[1]); l[1] != "" && (err != nil || !u.IsAbs() || u.Host == "") {
			errs = append(errs, fmt.Errorf("%s %q must be an absolute URL", l[0], l[1]))
		}
	}
	return errors.Join(errs...)
}
