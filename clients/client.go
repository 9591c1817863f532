package clients

import (
	"slices"
	"time"
)

// Grant types a client may be allowed to use (RFC 6749 §4.1, §6, §4.4).
const (
	// GrantAuthorizationCode is the authorization code grant, RFC 6749 §4.1.
	GrantAuthorizationCode = "authorization_code"
	// GrantRefreshToken is the refresh token grant, RFC 6749 §6.
	GrantRefreshToken = "refresh_token"
	// GrantClientCredentials is the client credentials grant, RFC 6749 §4.4.
	// Only confidential clients may use it.
	GrantClientCredentials = "client_credentials"
	// GrantDeviceCode is the device authorization grant, RFC 8628 §3.4,
	// for devices without a browser; public or confidential clients.
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// DefaultGrantTypes are the grant types of a client registered without any:
// the interactive sign-in flow plus refresh, which is what an OIDC relying
// party needs.
var DefaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}

// DefaultScopes are the scopes a client registered without any may request:
// the standard OIDC scopes (OIDC Core §5.4, §11).
var DefaultScopes = []string{"openid", "profile", "email", "offline_access"}

// Client is a registered OAuth 2.0 client (RFC 6749 §2).
type Client struct {
	// ID is the client_id (RFC 6749 §2.2); see ValidateID.
	ID string
	// Name is shown to users on the consent page.
	Name string
	// Public marks a client that cannot keep a secret (RFC 6749 §2.1), such
	// as a native or browser app; it must use PKCE and has no SecretHash.
	Public bool
	// SecretHash is HMAC-SHA256(pepper, secret) for confidential clients and
	// nil for public ones. The secret itself is stored only sealed, and
	// only for client_secret_jwt (SecretSealed).
	SecretHash []byte
	// SecretSealed is the secret itself, AES-256-GCM under a key derived
	// from the master key, for client_secret_jwt clients only (their
	// secret is an HMAC key idp must use); nil for every other client.
	SecretSealed []byte
	// RedirectURIs are matched exactly against the redirect_uri parameter
	// (see HasRedirectURI).
	RedirectURIs []string
	// PostLogoutRedirectURIs are the URIs the end-session endpoint may
	// redirect to (OIDC RP-Initiated Logout 1.0 §3), matched exactly.
	PostLogoutRedirectURIs []string
	// GrantTypes lists the grant types the client may use at the token
	// endpoint.
	GrantTypes []string
	// Scopes lists the scopes the client may request.
	Scopes []string
	// SigningAlg is the JWS alg of this client's ID and access tokens:
	// RS256 or ES256.
	SigningAlg string
	// Trusted marks a first-party client whose users are not asked for
	// consent.
	Trusted bool
	// RequireMFA makes every sign-in for this client need a second factor.
	RequireMFA bool
	// RequireVerifiedEmail holds back codes for users whose email address
	// is not verified: they are asked to verify it first.
	RequireVerifiedEmail bool
	// Metadata is what RFC 7591 §2 adds: how the client is shown to users
	// and a few protocol preferences.
	Metadata
	// Registration says how the client was registered: "" by an admin,
	// RegisteredWithToken or RegisteredOpen through the registration
	// endpoint (RFC 7591).
	Registration string
	// RegistrationTokenHash is the HMAC of its RFC 7592 registration access
	// token; nil for clients an admin registered.
	RegistrationTokenHash []byte
	// LastUsedAt is when an open registration last obtained a token, to
	// the hour (nil: never).
	LastUsedAt *time.Time
	// CreatedAt is when the client was registered.
	CreatedAt time.Time
	// UpdatedAt is when the client was last changed.
	UpdatedAt time.Time
}

// Metadata is a client's RFC 7591 §2 metadata beyond what Client names
// itself (client_name is Name, id_token_signed_response_alg is
// SigningAlg). The URIs are shown to users, never fetched by the server.
type Metadata struct {
	// LogoURI is an https URL or a small data:image URI (see
	// ValidateLogoURI), shown on the sign-in and consent pages.
	LogoURI string
	// ClientURI, PolicyURI and TOSURI are the client's home page, privacy
	// policy and terms of service, linked from the consent page.
	ClientURI, PolicyURI, TOSURI string
	// Contacts are email addresses of the people responsible for the
	// client, for administrators.
	Contacts []string
	// ApplicationType is "web" (the default) or "native" (OIDC
	// Registration §2): only native clients may register private-use
	// scheme redirect URIs (RFC 8252 §7.1).
	ApplicationType string
	// TokenEndpointAuthMethod pins how a confidential client authenticates:
	// client_secret_basic or client_secret_post; empty accepts either
	// (clients registered before the field existed). Public clients use
	// "none".
	TokenEndpointAuthMethod string
	// DefaultMaxAge, in seconds, applies when an authorization request has
	// no max_age (OIDC Registration §2); 0 is none.
	DefaultMaxAge int
	// RequireAuthTime asks for auth_time in ID tokens; idp always includes
	// it, so the flag is kept for the client's own record.
	RequireAuthTime bool
	// RequirePAR makes the client push every authorization request
	// (RFC 9126 §6 require_pushed_authorization_requests): /authorize
	// refuses its requests that do not come by request_uri.
	RequirePAR bool
	// DPoPBoundAccessTokens (RFC 9449 §5.2, --require-dpop) refuses the
	// client's token requests without a DPoP proof, so all its access
	// tokens are bound to a key.
	DPoPBoundAccessTokens bool
	// JWKS (a JWK Set as JSON) or JWKSURI (an https URL idp fetches) holds
	// the public keys a private_key_jwt client signs its assertions with.
	JWKS, JWKSURI string
	// Logout is where the client is told that a session it obtained
	// tokens in has ended (see logout.go).
	Logout
	// DefaultResource (an idp extension) is the registered resource whose
	// URI becomes the aud of access tokens when the client's request names
	// none (RFC 8707 resource); "" keeps the client id.
	DefaultResource string
}

// Application types (OIDC Registration §2).
const (
	AppWeb    = "web"
	AppNative = "native"
)

// Client authentication methods (RFC 7591 §2).
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	AuthNone        = "none"
)

// AuthMethod is the token_endpoint_auth_method the client registered, as
// RFC 7591 names it: "none" for public clients, and for a confidential
// one registered without a choice client_secret_basic, the RFC's default
// (client_secret_post is accepted from it too).
func (c *Client) AuthMethod() string {
	switch {
	case c.Public:
		return AuthNone
	case c.TokenEndpointAuthMethod == "":
		return AuthSecretBasic
	}
	return c.TokenEndpointAuthMethod
}

// AcceptsAuthMethod reports whether the client may authenticate with m.
func (c *Client) AcceptsAuthMethod(m string) bool {
	switch {
	case c.Public:
		return m == AuthNone
	case c.TokenEndpointAuthMethod == "":
		return m == AuthSecretBasic || m == AuthSecretPost
	}
	return m == c.TokenEndpointAuthMethod
}

// publicKeyMethods are the methods that need registered keys.
func needsKeys(m string) bool { return m == AuthPrivateKeyJWT }

// Audience is what a request naming resources is for (RFC 8707): those
// resources, or the client's default resource when it names none.
func (c *Client) Audience(resources []string) []string {
	if len(resources) == 0 && c.DefaultResource != "" {
		return []string{c.DefaultResource}
	}
	return resources
}

// AllowsGrant reports whether the client may use grant type g.
func (c *Client) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// AllowsScope reports whether the client may request scope s. Scope values
// are case-sensitive (RFC 6749 §3.3).
func (c *Client) AllowsScope(s string) bool { return slices.Contains(c.Scopes, s) }

// HasRedirectURI reports whether u is one of the client's redirect URIs.
//
// Matching is by exact string comparison with no normalisation of case,
// trailing slash, default port or query (RFC 9700 §2.1, OIDC Core §3.1.2.1):
// every normalisation rule has been a source of open redirects. The single
// exception is RFC 8252 §7.3: a native app listening on a loopback IP
// literal (http://127.0.0.1, any address of 127.0.0.0/8, or http://[::1])
// gets an ephemeral port from the OS, so such a URI may differ from the
// registered one in its port only; the address must be the same
// (127.0.0.2 is not 127.0.0.1). "localhost" does not get the exception; it
// can resolve off the machine (RFC 8252 §8.3).
func (c *Client) HasRedirectURI(u string) bool {
	if slices.Contains(c.RedirectURIs, u) {
		return true
	}
	host, rest, ok := splitLoopback(u)
	if !ok {
		return false
	}
	for _, r := range c.RedirectURIs {
		if rh, rr, ok := splitLoopback(r); ok && rh == host && rr == rest {
			return true
		}
	}
	return false
}

// HasPostLogoutRedirectURI reports whether u is one of the client's
// post-logout redirect URIs, by exact string comparison (OIDC RP-Initiated
// Logout 1.0 §3 requires an exact match with a registered value).
func (c *Client) HasPostLogoutRedirectURI(u string) bool {
	return slices.Contains(c.PostLogoutRedirectURIs, u)
}
