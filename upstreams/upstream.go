package upstreams

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// KindOIDC is an OpenID Connect provider found through discovery (OIDC
// Discovery 1.0), the one kind supported so far.
const KindOIDC = "oidc"

// Upstream is another identity provider people may sign in with.
type Upstream struct {
	// ID names it in URLs (/login/upstream/ID) and in links: lowercase
	// letters, digits and dashes.
	ID string
	// Name is shown on the button: "Continue with Name".
	Name string
	// Kind is KindOIDC.
	Kind string
	// Issuer is the upstream's exact iss; discovery is read from it.
	Issuer string
	// ClientID is idp's client id at the upstream.
	ClientID string
	// SecretSealed is idp's client secret at the upstream, sealed under
	// the master key; nil for a public client (PKCE only).
	SecretSealed []byte
	// Scopes are requested at the upstream; openid is always among them.
	Scopes []string
	// AllowedDomains, when not empty, are the only email domains whose
	// people may sign in through this upstream.
	AllowedDomains []string
	// LinkByEmail links a first sign-in to the existing idp user with the
	// same email, when the upstream says email_verified.
	LinkByEmail bool
	// JIT creates an idp user at the first sign-in of someone without one.
	JIT bool
	// Claims maps upstream claims onto the idp user at each sign-in.
	Claims ClaimMapping
	// CreatedAt and UpdatedAt are UTC.
	CreatedAt, UpdatedAt time.Time
}

// ClaimMapping says which upstream claims become what in idp. Name, email
// and email_verified always come from the standard claims of the same
// names. Roles come from RolesClaim only when it is set:
//
//   - RolesClaim names a claim holding a string or a list of strings
//     (e.g. "groups"); at each sign-in the user's roles become its values.
//   - RolesPrefix, when set, keeps only the values starting with it, with
//     the prefix removed ("idp-admin" becomes "admin" under "idp-").
//   - RequiredGroup, when set, refuses anybody whose RolesClaim does not
//     hold that exact value (before the prefix filter), before any account
//     is made or linked.
type ClaimMapping struct {
	RolesClaim    string
	RolesPrefix   string
	RequiredGroup string
}

// Roles maps the RolesClaim of claims to idp roles; ok is false when no
// mapping is configured (the user's roles are then left alone).
func (m ClaimMapping) Roles(claims map[string]any) (roles []string, ok bool) {
	if m.RolesClaim == "" {
		return nil, false
	}
	for _, v := range claimStrings(claims[m.RolesClaim]) {
		if r, found := strings.CutPrefix(v, m.RolesPrefix); found && r != "" {
			roles = append(roles, r)
		}
	}
	return roles, true
}

// InGroup reports whether claims satisfy RequiredGroup.
func (m ClaimMapping) InGroup(claims map[string]any) bool {
	return m.RequiredGroup == "" || slices.Contains(claimStrings(claims[m.RolesClaim]), m.RequiredGroup)
}

// claimStrings reads a string or a JSON array of strings; anything else
// is no value.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Spec is what an admin gives to create an upstream.
type Spec struct {
	ID, Name, Issuer, ClientID string
	// Secret is the client secret in the clear; empty: a public client.
	Secret         string
	Scopes         []string
	AllowedDomains []string
	LinkByEmail    bool
	JIT            bool
	Claims         ClaimMapping
}

// ErrUnknown means no upstream has the id.
var ErrUnknown = errors.New("no such upstream")

// ErrInvalid wraps every refused Spec or Update.
var ErrInvalid = errors.New("invalid upstream")

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// validate checks an upstream as it is about to be stored.
func (u *Upstream) validate() error {
	var errs []error
	if !idRE.MatchString(u.ID) {
		errs = append(errs, errors.New("id must be 1-63 lowercase letters, digits or dashes"))
	}
	if strings.TrimSpace(u.Name) == "" {
		errs = append(errs, errors.New("name is required (it is shown on the sign-in button)"))
	}
	if err := checkIssuer(u.Issuer); err != nil {
		errs = append(errs, err)
	}
	if u.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
	}
	if u.Kind != KindOIDC {
		errs = append(errs, fmt.Errorf("kind %q is not supported (only %q)", u.Kind, KindOIDC))
	}
	if u.Claims.RequiredGroup != "" && u.Claims.RolesClaim == "" {
		errs = append(errs, errors.New("a required group needs the roles claim it is read from"))
	}
	for _, d := range u.AllowedDomains {
		if d == "" || strings.ContainsAny(d, "@/ ") {
			errs = append(errs, fmt.Errorf("allowed domain %q is not a domain", d))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return nil
}

// checkIssuer accepts an https URL, or plain http on a loopback host (for
// development and tests), without query or fragment (OIDC Discovery §2).
func checkIssuer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q must be an absolute URL without query or fragment", raw)
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && !(u.Scheme == "http" && loopback) {
		return fmt.Errorf("issuer %q must be https (plain http only on a loopback host)", raw)
	}
	return nil
}

// normalize trims the lists, lower-cases the domains and makes sure openid
// is requested.
func (u *Upstream) normalize() {
	u.Name = strings.TrimSpace(u.Name)
	u.Issuer = strings.TrimSpace(u.Issuer)
	u.Scopes = uniq(append([]string{"openid"}, u.Scopes...), false)
	u.AllowedDomains = uniq(u.AllowedDomains, true)
}

func uniq(in []string, lower bool) []string {
	out := []string{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if lower {
			s = strings.ToLower(s)
		}
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// DomainAllowed reports whether email may sign in through u.
func (u *Upstream) DomainAllowed(email string) bool {
	if len(u.AllowedDomains) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	return at > 0 && slices.Contains(u.AllowedDomains, strings.ToLower(email[at+1:]))
}
