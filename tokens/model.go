package tokens

import "time"

// AuthRequest is a validated /authorize request kept server-side while the
// user signs in and consents (keyed by a random id, never by trusting
// hidden form fields).
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	ResponseMode        string
	Scopes              []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	// MaxAge is the OIDC max_age in seconds, nil when absent.
	MaxAge    *int
	LoginHint string
	// UpstreamHint is idp_hint (or kc_idp_hint): the upstream provider to
	// send the user to instead of the sign-in page. It is used while the
	// request is parsed and is not stored.
	UpstreamHint string
	// ACRValues are the requested acr values, in the client's order of
	// preference (OIDC Core §3.1.2.1).
	ACRValues []string
	// Resources are RFC 8707 resource indicators; they become the access
	// token's audience.
	Resources []string
	// DPoPJKT is the dpop_jkt parameter (RFC 9449 §10): the code may only
	// be redeemed with a DPoP proof by that key; "" unbound.
	DPoPJKT string
	// LoggedInAt is set when the user signed in for this very request, so a
	// prompt=login or max_age demand is satisfied once and not looped.
	LoggedInAt *time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// HasPrompt reports whether the request carried prompt value p.
func (r *AuthRequest) HasPrompt(p string) bool {
	for _, x := range r.Prompt {
		if x == p {
			return true
		}
	}
	return false
}

// Code is an authorization code as stored: the code itself is only in the
// redirect, the table keeps its hash and what the token request must match.
type Code struct {
	Hash                string
	ClientID            string
	UserID              string
	SessionID           string
	RedirectURI         string
	Scopes              []string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Resources           []string
	AuthTime            time.Time
	CreatedAt           time.Time
	ExpiresAt           time.Time
	UsedAt              *time.Time
	// AccessJTI, AccessExpiresAt and RefreshFamily record what the code's
	// redemption issued, so a replay can revoke it (RFC 6749 §4.1.2).
	AccessJTI       string
	AccessExpiresAt *time.Time
	RefreshFamily   string
	// AMR and ACR say how the user authenticated for this code.
	AMR []string
	ACR string
}

// Authn is how the user of an authorization authenticated: the session
// the code comes from, and what its ID token will say.
type Authn struct {
	UserID    string
	SessionID string
	AuthTime  time.Time
	// AMR are RFC 8176 method references; ACR the level issued.
	AMR []string
	ACR string
	// UpstreamID and UpstreamSub name the upstream account the session
	// signed in through ("" for idp's own sign-ins): the refresh family
	// keeps them, and each refresh asks that upstream again
	// (Config.UpstreamCheck).
	UpstreamID, UpstreamSub string
}
