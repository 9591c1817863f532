package clients

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// Limits on metadata, so a registration cannot fill pages or rows.
const (
	// MaxLogoDataURI bounds a data: logo, whole URI included; such a logo
	// is inlined in the sign-in and consent pages.
	MaxLogoDataURI = 32 << 10
	maxLinkURI     = 2048
	maxContacts    = 10
	maxName        = 100
	// maxDefaultMaxAge is a year, in seconds.
	maxDefaultMaxAge = 366 * 24 * 3600
)

// logoTypes are the image types a data: logo may have. SVG is safe here:
// an <img> never runs its scripts.
var logoTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}

// ValidateLogoURI accepts an https URL (shown by the browser, never
// fetched by idp) or a base64 data: URI of an image type, at most
// MaxLogoDataURI bytes. Anything else (http:, javascript:, a data: URI of
// another type or over the limit) is refused.
func ValidateLogoURI(u string) error {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		if len(u) > MaxLogoDataURI {
			return fmt.Errorf("logo data URI is %d bytes; the limit is %d", len(u), MaxLogoDataURI)
		}
		meta, data, found := strings.Cut(rest, ",")
		typ, isB64 := strings.CutSuffix(meta, ";base64")
		if !found || !isB64 || !slices.Contains(logoTypes, strings.ToLower(typ)) {
			return errors.New("logo data URI must be data:image/png|jpeg|gif|webp|svg+xml;base64,…")
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil || data == "" {
			return errors.New("logo data URI holds invalid base64")
		}
		return nil
	}
	return validateLink("logo URI", u)
}

// validateLink accepts an absolute https URL with a host and no userinfo
// or fragment-only trickery; http only on a loopback host, for
// development.
func validateLink(what, u string) error {
	if len(u) > maxLinkURI {
		return fmt.Errorf("%s is longer than %d bytes", what, maxLinkURI)
	}
	if strings.ContainsFunc(u, isSpaceOrControl) {
		return fmt.Errorf("%s %q must not contain spaces or control characters", what, u)
	}
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || p.Hostname() == "" || p.User != nil {
		return fmt.Errorf("%s %q must be an absolute https URL", what, u)
	}
	if p.Scheme != "https" && (p.Scheme != "http" || !isLoopbackHost(p.Hostname())) {
		return fmt.Errorf("%s %q must use https", what, u)
	}
	return nil
}

// isPrivateUse reports whether a checked redirect URI uses a private-use
// scheme (RFC 8252 §7.1; ValidateRedirectURI knows them by the dot).
func isPrivateUse(u string) bool {
	scheme, _, _ := strings.Cut(u, ":")
	return strings.Contains(scheme, ".")
}

// checkMetadata checks m for a client of the given kind and fills in the
// defaults, returning every problem. redirects are the client's checked
// redirect URIs, which its application type constrains.
func checkMetadata(m Metadata, public bool, redirects []string) (Metadata, []error) {
	var errs []error
	if m.LogoURI != "" {
		if err := ValidateLogoURI(m.LogoURI); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range []struct{ what, u string }{{"client URI", m.ClientURI}, {"policy URI", m.PolicyURI}, {"terms of service URI", m.TOSURI}} {
		if l.u != "" {
			if err := validateLink(l.what, l.u); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if m.Contacts = dedup(m.Contacts); len(m.Contacts) == 0 {
		m.Contacts = nil
	}
	if len(m.Contacts) > maxContacts {
		errs = append(errs, fmt.Errorf("at most %d contacts", maxContacts))
	}
	for _, c := range m.Contacts {
		if a, err := mail.ParseAddress(c); err != nil || a.Address != c || len(c) > 254 {
			errs = append(errs, fmt.Errorf("contact %q must be a bare email address", c))
		}
	}
	private := slices.IndexFunc(redirects, isPrivateUse)
	switch m.ApplicationType {
	case "":
		// Not said: a private-use redirect can only be a native app's (as
		// every client registered before the field existed is read).
		m.ApplicationType = AppWeb
		if private >= 0 {
			m.ApplicationType = AppNative
		}
	case AppWeb:
		if private >= 0 {
			errs = append(errs, fmt.Errorf("redirect URI %q uses a private-use scheme, which only a native client may (application type native)", redirects[private]))
		}
	case AppNative:
	default:
		errs = append(errs, fmt.Errorf("application type %q must be web or native", m.ApplicationType))
	}
	switch m.TokenEndpointAuthMethod {
	case "":
	case AuthNone:
		if !public {
			errs = append(errs, errors.New("token endpoint auth method none is for public clients"))
		}
		m.TokenEndpointAuthMethod = "" // public clients always use none
	case AuthSecretBasic, AuthSecretPost:
		if public {
			errs = append(errs, fmt.Errorf("a public client has no secret to use %s", m.TokenEndpointAuthMethod))
		}
	case AuthPrivateKeyJWT, AuthSecretJWT:
		if public {
			errs = append(errs, fmt.Errorf("a public client cannot use %s", m.TokenEndpointAuthMethod))
		}
	default:
		errs = append(errs, fmt.Errorf("token endpoint auth method %q is not supported; use client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none", m.TokenEndpointAuthMethod))
	}
	switch {
	case m.JWKS != "" && m.JWKSURI != "":
		errs = append(errs, errors.New("give jwks or jwks_uri, not both (RFC 7591 §2)"))
	case (m.JWKS != "" || m.JWKSURI != "") && !needsKeys(m.TokenEndpointAuthMethod):
		errs = append(errs, errors.New("jwks and jwks_uri are used only with token endpoint auth method private_key_jwt"))
	case needsKeys(m.TokenEndpointAuthMethod) && m.JWKS == "" && m.JWKSURI == "":
		errs = append(errs, errors.New("private_key_jwt needs the client's public keys: jwks or jwks_uri"))
	case m.JWKS != "":
		if _, err := ParseJWKS([]byte(m.JWKS)); err != nil {
			errs = append(errs, fmt.Errorf("jwks: %w", err))
		}
	case m.JWKSURI != "":
		if err := validateLink("jwks_uri", m.JWKSURI); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, m.Logout.check()...)
	if m.DefaultResource != "" {
		if u, err := url.Parse(m.DefaultResource); err != nil || !u.IsAbs() || strings.Contains(m.DefaultResource, "#") || len(m.DefaultResource) > 512 {
			errs = append(errs, fmt.Errorf("default resource %q must be an absolute URI without a fragment", m.DefaultResource))
		}
	}
	if m.DefaultMaxAge < 0 || m.DefaultMaxAge > maxDefaultMaxAge {
		errs = append(errs, fmt.Errorf("default max age must be 0 to %d seconds", maxDefaultMaxAge))
	}
	return m, errs
}
