package resources

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"idp/oauth"
)

// Resource is a registered API.
type Resource struct {
	// URI identifies the resource: an absolute URI without a fragment, the
	// aud of its tokens and its client_id at the introspection endpoint.
	URI string
	// Name is shown to admins (and on the consent page's scopes, later).
	Name string
	// Scopes are the scopes the resource defines (its RFC 9728
	// scopes_supported). When there are any, a token for the resource may
	// carry no other API scope (see Policy.Allows); none accepts any.
	Scopes []string
	// SecretHash is HMAC-SHA256(pepper, secret), nil when the resource has
	// no credentials (it verifies tokens locally and never introspects).
	SecretHash []byte
	// SigningAlg is RS256 or ES256 for its access tokens; "" keeps the
	// client's algorithm.
	SigningAlg string
	// AccessTokenTTL shortens its access tokens' lifetime; 0 keeps the
	// provider's --access-token-ttl, which it can never exceed (a retired
	// key is kept in the JWKS exactly that long).
	AccessTokenTTL time.Duration
	// CreatedAt and UpdatedAt are stored at microsecond precision, UTC.
	CreatedAt, UpdatedAt time.Time
}

// Spec describes a resource to register or the new state of one.
type Spec struct {
	URI, Name  string
	Scopes     []string
	SigningAlg string
	// AccessTokenTTL is 0 (the provider's) up to the provider's.
	AccessTokenTTL time.Duration
	// Secret is at least 32 bytes; empty generates one unless NoSecret.
	Secret string
	// NoSecret registers a resource without introspection credentials.
	NoSecret bool
}

// SpecOf is the spec that describes r, without its secret.
func SpecOf(r *Resource) Spec {
	return Spec{URI: r.URI, Name: r.Name, Scopes: slices.Clone(r.Scopes), SigningAlg: r.SigningAlg,
		AccessTokenTTL: r.AccessTokenTTL, NoSecret: r.SecretHash == nil}
}

// maxURILen bounds a resource URI, as the protocol endpoints bound the
// resource parameter.
const maxURILen = 512

// ValidateURI checks a resource identifier (RFC 8707 §2): an absolute URI
// without a fragment, of printable ASCII. It must contain ":", so it can
// never be taken for a client id, which may not.
func ValidateURI(uri string) error {
	if uri == "" || len(uri) > maxURILen {
		return fmt.Errorf("resource URI must be 1 to %d bytes", maxURILen)
	}
	for _, r := range uri {
		if r <= ' ' || r >= 0x7f {
			return errors.New("resource URI must be printable ASCII without spaces")
		}
	}
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("resource URI %q must be absolute", uri)
	}
	if u.Fragment != "" || strings.Contains(uri, "#") {
		return fmt.Errorf("resource URI %q must not have a fragment", uri)
	}
	if (u.Scheme == "https" || u.Scheme == "http") && u.Host == "" {
		return fmt.Errorf("resource URI %q has no host", uri)
	}
	return nil
}

// validate returns every problem of spec, and maxTTL bounds the lifetime.
func (s Spec) validate(maxTTL time.Duration) []error {
	var errs []error
	if err := ValidateURI(s.URI); err != nil {
		errs = append(errs, err)
	}
	if len(s.Name) > 200 {
		errs = append(errs, errors.New("name must be at most 200 bytes"))
	}
	for _, sc := range s.Scopes {
		if p, ok := oauth.ParseScope(sc); !ok || len(p) != 1 {
			errs = append(errs, fmt.Errorf("scope %q is not a single scope token", sc))
		}
	}
	switch s.SigningAlg {
	case "", "RS256", "ES256":
	default:
		errs = append(errs, fmt.Errorf("signing alg %q must be RS256 or ES256", s.SigningAlg))
	}
	switch {
	case s.AccessTokenTTL < 0:
		errs = append(errs, errors.New("access token lifetime must not be negative"))
	case s.AccessTokenTTL > 0 && s.AccessTokenTTL < 30*time.Second:
		errs = append(errs, errors.New("access token lifetime must be at least 30s"))
	case maxTTL > 0 && s.AccessTokenTTL > maxTTL:
		errs = append(errs, fmt.Errorf("access token lifetime must be at most the provider's %s (retired keys stay published that long)", maxTTL))
	}
	if s.Secret != "" && s.NoSecret {
		errs = append(errs, errors.New("a secret was given for a resource without credentials"))
	}
	if s.Secret != "" && len(s.Secret) < minSecretLen {
		errs = append(errs, fmt.Errorf("secret must be at least %d bytes", minSecretLen))
	}
	return errs
}

// Policy is what the resources of one access token ask of it.
type Policy struct {
	// SigningAlg is "" when none of them asks for one.
	SigningAlg string
	// TTL is the shortest lifetime any of them asks for; 0 when none does.
	TTL time.Duration
	// Scopes is the union of the scopes they declare.
	Scopes []string
	// Restricted is true when every one of them declares scopes: only
	// then does Scopes limit the token's API scopes. The zero Policy (no
	// resource at all) restricts nothing.
	Restricted bool
}

// Allows reports whether a token for these resources may carry scope.
// The OpenID Connect scopes always may (they concern the ID token,
// userinfo and the refresh token, not an API). An API scope may when some
// resource of the token declares it, or when some resource declares no
// scopes at all: a resource without declared scopes accepts any scope.
func (p Policy) Allows(scope string) bool {
	return oauth.OIDCScope(scope) || !p.Restricted || slices.Contains(p.Scopes, scope)
}

// Allowed returns the scopes, in order, that a token for these resources
// may carry.
func (p Policy) Allowed(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if p.Allows(sc) {
			out = append(out, sc)
		}
	}
	return out
}
