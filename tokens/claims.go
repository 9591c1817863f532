package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"

	"idp/oauth"
	"idp/users"
)

// IDClaims are the claims of an ID token (OIDC Core §2, §3.1.3.6, §5.1).
type IDClaims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      string   `json:"aud"`
	ExpiresAt     int64    `json:"exp"`
	IssuedAt      int64    `json:"iat"`
	AuthTime      int64    `json:"auth_time,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	AccessHash    string   `json:"at_hash,omitempty"`
	AZP           string   `json:"azp"`
	SessionID     string   `json:"sid,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	ACR           string   `json:"acr,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
}

// AccessClaims are the claims of a JWT access token (RFC 9068 §2.2).
type AccessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ClientID  string   `json:"client_id"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	Scope     string   `json:"scope"`
	Roles     []string `json:"roles"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	// ACR and AMR say how the user authenticated (RFC 9068 §2.2.1), so an
	// API such as idp's own admin API can demand a second factor.
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
	// Cnf binds the token to a DPoP key (RFC 9449 §6.1); nil for a bearer token.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// HasScope reports whether the token was granted scope sc.
func (c *AccessClaims) HasScope(sc string) bool {
	scopes, _ := oauth.ParseScope(c.Scope)
	return slices.Contains(scopes, sc)
}

// HasRole reports whether the token carries role r.
func (c *AccessClaims) HasRole(r string) bool { return slices.Contains(c.Roles, r) }

// userClaims adds the scope-dependent user claims (OIDC Core §5.4).
func userClaims(c *IDClaims, u *users.User, scopes []string) {
	if slices.Contains(scopes, oauth.ScopeEmail) {
		v := u.EmailVerified
		c.Email, c.EmailVerified = u.Email, &v
	}
	if slices.Contains(scopes, oauth.ScopeProfile) {
		c.Name = u.Name
	}
}

// UserInfo returns the UserInfo response for a user and granted scopes
// (OIDC Core §5.3.2): sub always, the rest by scope.
func UserInfo(u *users.User, scopes []string) map[string]any {
	out := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, oauth.ScopeEmail) {
		out["email"], out["email_verified"] = u.Email, u.EmailVerified
	}
	if slices.Contains(scopes, oauth.ScopeProfile) {
		out["name"] = u.Name
	}
	return out
}

// accessHash computes at_hash: the left half of the SHA-256 of the access
// token, base64url (OIDC Core §3.1.3.6; SHA-256 for both RS256 and ES256).
func accessHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
