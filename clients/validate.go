package clients

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// maxIDLen bounds client ids; they travel in URLs, forms and Basic auth.
const maxIDLen = 128

// ValidateID checks a client_id: 1-128 characters, each an RFC 3986
// unreserved character (A-Z a-z 0-9 . _ ~ -). Such an id is the same
// whether or not it is form-urlencoded (RFC 6749 §2.3.1 encodes it before
// Basic auth) or put in a query string, so no two spellings can name one
// client.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("client id must not be empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("client id must be at most %d characters, got %d", maxIDLen, len(id))
	}
	for _, r := range id {
		if !isUnreserved(r) {
			return fmt.Errorf("client id %q may contain only A-Z, a-z, 0-9 and . _ ~ -", id)
		}
	}
	return nil
}

func isUnreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == '~' || r == '-'
}

// ValidateRedirectURI checks a redirect URI (or post-logout redirect URI)
// before it is registered. It must be an absolute URI without a fragment
// (RFC 6749 §3.1.2) or userinfo, and use one of:
//   - https with a host;
//   - http only on a loopback host: localhost, an address of 127.0.0.0/8
//     such as 127.0.0.1, or [::1] (RFC 8252 §7.3); elsewhere the code would cross the network in the
//     clear (RFC 6749 §3.1.2.1 asks for TLS);
//   - a private-use scheme in reverse-domain form such as
//     com.example.app:/cb (RFC 8252 §7.1), recognised by the dot in the
//     scheme, so javascript:, data: and friends stay out.
func ValidateRedirectURI(u string) error {
	if u == "" {
		return errors.New("redirect URI must not be empty")
	}
	if strings.ContainsFunc(u, isSpaceOrControl) {
		return fmt.Errorf("redirect URI %q must not contain spaces or control characters", u)
	}
	// Checked on the raw string: url.Parse drops an empty fragment ("/cb#").
	if strings.Contains(u, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment (RFC 6749 §3.1.2)", u)
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("redirect URI %q is not a valid URI", u)
	}
	if !p.IsAbs() {
		return fmt.Errorf("redirect URI %q must be absolute", u)
	}
	if p.User != nil {
		return fmt.Errorf("redirect URI %q must not contain userinfo", u)
	}
	switch {
	case p.Scheme == "https":
		if p.Hostname() == "" {
			return fmt.Errorf("redirect URI %q must have a host", u)
		}
	case p.Scheme == "http":
		if !isLoopbackHost(p.Hostname()) {
			return fmt.Errorf("redirect URI %q: http is allowed only for localhost, 127.0.0.0/8 in dotted decimal (e.g. 127.0.0.1) and [::1]; use https", u)
		}
	case strings.Contains(p.Scheme, "."):
		if p.Opaque == "" && p.Host == "" && p.Path == "" {
			return fmt.Errorf("redirect URI %q must have a path after the scheme", u)
		}
	default:
		return fmt.Errorf("redirect URI %q: scheme %q is not allowed; use https, http on a loopback host, or a private-use scheme like com.example.app (RFC 8252 §7.1)", u, p.Scheme)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// scopeTokenValid reports whether s is a scope-token of RFC 6749 §3.3:
// one or more of %x21 / %x23-5B / %x5D-7E (printable ASCII except space,
// '"' and '\').
func scopeTokenValid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Signing algorithms a client may choose; keys exists for exactly these.
const (
	algRS256 = "RS256"
	algES256 = "ES256"
)

// build checks spec and returns the client it describes, with defaults
// applied and lists deduplicated, or every problem joined. It does not
// touch the secret beyond checking it; Create hashes it.
func build(spec Spec) (*Client, error) {
	var errs []error
	if err := ValidateID(spec.ID); err != nil {
		errs = append(errs, err)
	}
	grants, gerrs := checkGrants(spec)
	errs = append(errs, gerrs...)
	errs = append(errs, checkSecret(spec)...)

	redirects := dedup(spec.RedirectURIs)
	if len(redirects) == 0 && slices.Contains(grants, GrantAuthorizationCode) {
		// RFC 6749 §3.1.2.2 and OIDC Core §3.1.2.1: the code flow needs a
		// registered redirect URI to match exactly.
		errs = append(errs, errors.New("at least one redirect URI is required for the authorization_code grant"))
	}
	for _, u := range redirects {
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, err)
		}
	}
	logouts := dedup(spec.PostLogoutRedirectURIs)
	for _, u := range logouts {
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("post-logout %w", err))
		}
	}

	scopes := dedup(spec.Scopes)
	if len(scopes) == 0 {
		scopes = slices.Clone(DefaultScopes)
	}
	for _, sc := range scopes {
		if !scopeTokenValid(sc) {
			errs = append(errs, fmt.Errorf("scope %q is not a valid scope token (RFC 6749 §3.3)", sc))
		}
	}

	if len(spec.Name) > maxName || strings.ContainsFunc(spec.Name, isControl) {
		errs = append(errs, fmt.Errorf("name must be at most %d bytes without control characters", maxName))
	}
	meta, merrs := checkMetadata(spec.Metadata, spec.Public, redirects)
	errs = append(errs, merrs...)

	alg := spec.SigningAlg
	if alg == "" {
		alg = algRS256
	}
	if alg != algRS256 && alg != algES256 {
		errs = append(errs, fmt.Errorf("signing alg %q is not supported; use RS256 or ES256", alg))
	}

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Client{
		ID:                     spec.ID,
		Name:                   spec.Name,
		Public:                 spec.Public,
		RedirectURIs:           redirects,
		PostLogoutRedirectURIs: logouts,
		GrantTypes:             grants,
		Scopes:                 scopes,
		SigningAlg:             alg,
		Trusted:                spec.Trusted,
		RequireMFA:             spec.RequireMFA,
		RequireVerifiedEmail:   spec.RequireVerifiedEmail,
		Metadata:               meta,
	}, nil
}

// checkGrants returns the client's grant types (the defaults if none were
// given) and any problem with them.
func checkGrants(spec Spec) ([]string, []error) {
	grants := dedup(spec.GrantTypes)
	if len(grants) == 0 {
		grants = slices.Clone(DefaultGrantTypes)
	}
	var errs []error
	for _, g := range grants {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials:
		default:
			errs = append(errs, fmt.Errorf("grant type %q is not supported; use authorization_code, refresh_token or client_credentials", g))
		}
	}
	// Refresh tokens are issued only with a code (RFC 6749 §4.4.3 says not
	// to issue them for client_credentials), so the grant alone is useless.
	if slices.Contains(grants, GrantRefreshToken) && !slices.Contains(grants, GrantAuthorizationCode) {
		errs = append(errs, errors.New("grant type refresh_token requires authorization_code"))
	}
	// RFC 6749 §4.4: client_credentials MUST only be used by confidential
	// clients; a public client would be anyone holding its id.
	if spec.Public && slices.Contains(grants, GrantClientCredentials) {
		errs = append(errs, errors.New("public clients cannot use the client_credentials grant (RFC 6749 §4.4)"))
	}
	return grants, errs
}

// checkSecret checks Spec.Secret against the client type (RFC 6749 §2.1).
func checkSecret(spec Spec) []error {
	switch {
	case spec.Public && spec.Secret != "":
		return []error{errors.New("public clients must not have a secret (RFC 6749 §2.1)")}
	case !spec.Public && spec.Secret != "" && len(spec.Secret) < minSecretLen:
		return []error{fmt.Errorf("client secret must be at least %d bytes, got %d", minSecretLen, len(spec.Secret))}
	}
	return nil
}

// dedup returns list without repeated values, first occurrence kept, and
// never nil, so an empty list is stored as [] rather than null.
func dedup(list []string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
