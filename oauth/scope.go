package oauth

import (
	"slices"
	"strings"
)

// Scopes and values used across the protocol.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
	// ScopeAdmin lets an access token call idp's own admin API; it is granted
	// only to users with the admin role.
	ScopeAdmin = "idp:admin"

	ResponseTypeCode = "code"

	ResponseModeQuery    = "query"
	ResponseModeFormPost = "form_post"

	PromptNone    = "none"
	PromptLogin   = "login"
	PromptConsent = "consent"

	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// ParseScope splits a space-delimited scope parameter (RFC 6749 §3.3) into
// distinct tokens in first-seen order. ok is false if a token has a
// character the RFC forbids.
func ParseScope(s string) (scopes []string, ok bool) {
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		if !ValidScopeToken(tok) {
			return nil, false
		}
		if !slices.Contains(scopes, tok) {
			scopes = append(scopes, tok)
		}
	}
	return scopes, true
}

// ValidScopeToken checks scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScopeToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

// oidcScopes are the scopes OpenID Connect defines (OIDC Core §5.4,
// §11): they concern the ID token, userinfo and the refresh token, never
// an API.
var oidcScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, "address", "phone", ScopeOfflineAccess}

// OIDCScope reports whether s is one of the OpenID Connect scopes (openid,
// profile, email, address, phone, offline_access). Any other scope is an
// API scope, which a resource may restrict.
func OIDCScope(s string) bool { return slices.Contains(oidcScopes, s) }

// JoinScope renders scopes as a space-delimited parameter.
func JoinScope(scopes []string) string { return strings.Join(scopes, " ") }

// Subset reports whether every scope in a is in b.
func Subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// ParsePrompt splits the prompt parameter (OIDC Core §3.1.2.1). "none"
// combined with any other value is an error, as is an unknown value.
func ParsePrompt(s string) (prompts []string, ok bool) {
	for _, p := range strings.Fields(s) {
		switch p {
		case PromptNone, PromptLogin, PromptConsent, "select_account":
		default:
			return nil, false
		}
		if !slices.Contains(prompts, p) {
			prompts = append(prompts, p)
		}
	}
	if slices.Contains(prompts, PromptNone) && len(prompts) > 1 {
		return nil, false
	}
	return prompts, true
}
