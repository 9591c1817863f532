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

// The kinds of upstream. Each decides where the endpoints come from and
// where the claims about the person come from.
const (
	// KindOIDC is an OpenID Connect provider found through discovery (OIDC
	// Discovery 1.0): the claims are those of its verified ID token.
	KindOIDC = "oidc"
	// KindOAuth2 is a plain OAuth 2.0 provider (RFC 6749) with configured
	// authorization, token and userinfo URLs: the claims are the JSON
	// object its userinfo URL returns for the access token.
	KindOAuth2 = "oauth2"
	// KindGitHub is GitHub (or GitHub Enterprise Server at GitHubURL): an
	// OAuth 2.0 provider whose claims idp assembles from its REST API,
	// see github.go.
	KindGitHub = "github"
)

// Kinds lists the kinds an upstream may have.
var Kinds = []string{KindOIDC, KindOAuth2, KindGitHub}

// Upstream is another identity provider people may sign in with.
type Upstream struct {
	// ID names it in URLs (/login/upstream/ID) and in links: lowercase
	// letters, digits and dashes.
	ID string
	// Name is shown on the button: "Continue with Name".
	Name string
	// Kind is KindOIDC, KindOAuth2 or KindGitHub.
	Kind string
	// Issuer is the upstream's exact iss; discovery is read from it. Only
	// for KindOIDC: a plain OAuth 2.0 provider has no issuer to check.
	Issuer string
	// AuthURL, TokenURL and UserinfoURL are a KindOAuth2 upstream's
	// endpoints (RFC 6749 §3.1, §3.2, and the URL returning the person's
	// claims as JSON for the access token); empty for the other kinds.
	AuthURL, TokenURL, UserinfoURL string
	// GitHubURL is a KindGitHub upstream's web base URL: empty for
	// github.com, https://HOST for GitHub Enterprise Server.
	GitHubURL string
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

// Spec is what an admin gives to create an upstream.
type Spec struct {
	ID, Name string
	// Kind is one of Kinds; empty: KindOIDC.
	Kind                           string
	Issuer, ClientID               string
	AuthURL, TokenURL, UserinfoURL string
	GitHubURL                      string
	// Secret is the client secret in the clear; empty: a public client.
	Secret         string
	Scopes         []string
	AllowedDomains []string
	LinkByEmail    bool
	JIT            bool
	Claims         ClaimMapping
}

// upstream is the Upstream spec describes, created at now.
func (spec Spec) upstream(now time.Time) *Upstream {
	return &Upstream{ID: spec.ID, Name: spec.Name, Kind: spec.Kind, Issuer: spec.Issuer, ClientID: spec.ClientID,
		AuthURL: spec.AuthURL, TokenURL: spec.TokenURL, UserinfoURL: spec.UserinfoURL, GitHubURL: spec.GitHubURL,
		Scopes: spec.Scopes, AllowedDomains: spec.AllowedDomains, LinkByEmail: spec.LinkByEmail, JIT: spec.JIT,
		Claims: spec.Claims, CreatedAt: now, UpdatedAt: now}
}

// applyTo sets the endpoint and claim mapping changes of up on u. A
// roles mapping that contradicts an also given RolesClaim is refused.
func (up Update) applyTo(u *Upstream) error {
	for _, f := range []struct{ dst, v *string }{{&u.AuthURL, up.AuthURL}, {&u.TokenURL, up.TokenURL},
		{&u.UserinfoURL, up.UserinfoURL}, {&u.GitHubURL, up.GitHubURL}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if up.Mapping == nil {
		return nil
	}
	fields, err := ParseClaimMapping(*up.Mapping)
	if err != nil {
		return err
	}
	if r, ok := fields[FieldRoles]; ok && up.RolesClaim != nil && *up.RolesClaim != r {
		return fmt.Errorf("%w: roles=%s in the claim mapping contradicts the roles claim %q", ErrInvalid, r, *up.RolesClaim)
	}
	u.Claims.Map(fields)
	return nil
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
	errs = append(errs, u.validateKind()...)
	if u.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
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

// validateKind checks that exactly the endpoint settings of u's kind are
// given: a setting another kind would use is refused rather than ignored,
// so an operator is never misled into thinking it has an effect.
func (u *Upstream) validateKind() []error {
	var errs []error
	unused := func(name, v string) {
		if v != "" {
			errs = append(errs, fmt.Errorf("%s is not used by kind %q", name, u.Kind))
		}
	}
	endpoint := func(name, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("kind %q needs %s", u.Kind, name))
		} else if err := checkURL(name, v, true); err != nil {
			errs = append(errs, err)
		}
	}
	switch u.Kind {
	case KindOIDC:
		if err := checkIssuer(u.Issuer); err != nil {
			errs = append(errs, err)
		}
		unused("auth url", u.AuthURL)
		unused("token url", u.TokenURL)
		unused("userinfo url", u.UserinfoURL)
		unused("github url", u.GitHubURL)
	case KindOAuth2:
		unused("issuer", u.Issuer)
		endpoint("auth url", u.AuthURL)
		endpoint("token url", u.TokenURL)
		endpoint("userinfo url", u.UserinfoURL)
		unused("github url", u.GitHubURL)
	case KindGitHub:
		unused("issuer", u.Issuer)
		unused("auth url", u.AuthURL)
		unused("token url", u.TokenURL)
		unused("userinfo url", u.UserinfoURL)
		if u.GitHubURL != "" {
			if err := checkURL("github url", u.GitHubURL, false); err != nil {
				errs = append(errs, err)
			} else if p, _ := url.Parse(u.GitHubURL); p.Path != "" && p.Path != "/" {
				errs = append(errs, fmt.Errorf("github url %q must be a base URL such as https://github.example.com, without a path", u.GitHubURL))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("kind %q is not one of %s", u.Kind, strings.Join(Kinds, ", ")))
	}
	return errs
}

// checkURL accepts an absolute https URL, or plain http on a loopback
// host, without a fragment; query is allowed only when query is set (an
// endpoint may carry one, RFC 6749 §3.1 and §3.2).
func checkURL(name, raw string, query bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || (!query && u.RawQuery != "") {
		return fmt.Errorf("%s %q must be an absolute URL without fragment", name, raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname())) {
		return fmt.Errorf("%s %q must be https (plain http only on a loopback host)", name, raw)
	}
	return nil
}

func loopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// checkIssuer accepts an https URL, or plain http on a loopback host (for
// development and tests), without query or fragment (OIDC Discovery §2).
func checkIssuer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q must be an absolute URL without query or fragment", raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname())) {
		return fmt.Errorf("issuer %q must be https (plain http only on a loopback host)", raw)
	}
	return nil
}

// normalize trims the settings, lower-cases the domains and makes sure
// the scopes a kind cannot work without are requested: openid for OIDC
// (OIDC Core §3.1.2.1), user:email for GitHub (the verified-email lookup
// needs it); GitHub with no scopes asks for read:user and user:email.
func (u *Upstream) normalize() {
	u.Name = strings.TrimSpace(u.Name)
	for _, f := range []*string{&u.Kind, &u.Issuer, &u.AuthURL, &u.TokenURL, &u.UserinfoURL, &u.GitHubURL} {
		*f = strings.TrimSpace(*f)
	}
	if u.Kind == "" {
		u.Kind = KindOIDC
	}
	switch u.Kind {
	case KindOIDC:
		u.Scopes = append([]string{"openid"}, u.Scopes...)
	case KindGitHub:
		if len(uniq(u.Scopes, false)) == 0 {
			u.Scopes = []string{"read:user"}
		}
		u.Scopes = append(u.Scopes, "user:email")
	}
	u.Scopes = uniq(u.Scopes, false)
	u.AllowedDomains = uniq(u.AllowedDomains, true)
	u.GitHubURL = strings.TrimSuffix(u.GitHubURL, "/")
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
