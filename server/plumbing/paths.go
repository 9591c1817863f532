package plumbing

// Paths of the endpoints and pages. The well-known ones are fixed by the
// specs; the rest are found through discovery. Package server's routes.go
// mounts them; handlers redirect to them and the error handler picks
// pages over JSON by them.
const (
	PathDiscovery = "/.well-known/openid-configuration" // OIDC Discovery 1.0 §4
	PathJWKS      = "/.well-known/jwks.json"            // jwks_uri (RFC 7517)
	// PathASMetadata is RFC 8414 §3's authorization server metadata; for an
	// issuer with a path, RFC 8414 puts the path after it as well.
	PathASMetadata = "/.well-known/oauth-authorization-server"
	PathAuthorize  = "/authorize"          // RFC 6749 §3.1
	PathToken      = "/token"              // RFC 6749 §3.2
	PathPAR        = "/par"                // RFC 9126 §2, pushed authorization requests
	PathRegister   = "/register"           // RFC 7591 §3; /register/{id} is RFC 7592's
	PathUserInfo   = "/userinfo"           // OIDC Core §5.3
	PathEndSession = "/end-session"        // OIDC RP-Initiated Logout 1.0 §2
	PathRevoke     = "/revoke"             // RFC 7009
	PathIntrospect = "/introspect"         // RFC 7662
	PathLogin      = "/login"              // sign-in page
	PathLoginMFA   = "/login/mfa"          // second factor: challenge or enrollment
	PathVerifyNeed = "/login/verify-email" // a client needs a verified address: verify it first
	PathPasskey    = "/login/passkey"      // passwordless sign-in with a passkey
	PathConsent    = "/consent"            // consent page
	PathLogout     = "/logout"             // confirmed sign-out
	PathAccount    = "/account"            // the signed-in user's own page
	PathAdmin      = "/admin"              // admin web pages
	PathAdminAPI   = "/api/admin"          // admin JSON API
	PathHealthz    = "/healthz"            // process up
	PathReadyz     = "/readyz"             // database reachable, keys loaded
	PathMetrics    = "/metrics"            // Prometheus
)
