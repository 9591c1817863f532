package verifier

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// AccessClaims are the claims of a verified RFC 9068 access token (§2.2).
type AccessClaims struct {
	// Issuer is iss, equal to Config.Issuer.
	Issuer string
	// Subject is sub: the user, or the client itself for client_credentials.
	Subject string
	// Audience is aud; it contains Config.Audience.
	Audience []string
	// ClientID is client_id, the client the token was issued to.
	ClientID string
	// JTI is the token's unique id, for replay caches and audit logs.
	JTI string
	// Scope is the space-separated granted scope (RFC 8693 §4.2).
	Scope string
	// Roles are the user's roles; empty for client_credentials tokens.
	Roles []string
	// ExpiresAt is exp.
	ExpiresAt time.Time
	// IssuedAt is iat.
	IssuedAt time.Time
	// AuthTime is when the user signed in; zero when absent.
	AuthTime time.Time
	// JKT is cnf.jkt, the thumbprint of the key a DPoP-bound token is
	// bound to (RFC 9449 §6.1); empty for a bearer token.
	JKT string
	// Raw holds every claim as decoded JSON, for claims not named above.
	Raw map[string]any
}

// HasScope reports whether scope was granted. Scope values are compared
// exactly, case included (RFC 6749 §3.3).
func (c *AccessClaims) HasScope(scope string) bool {
	return slices.Contains(strings.Fields(c.Scope), scope)
}

// HasRole reports whether the token carries role.
func (c *AccessClaims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// IDClaims are the claims of a verified ID token (OIDC Core §2, §5.1).
type IDClaims struct {
	// Issuer is iss, equal to Config.Issuer.
	Issuer string
	// Subject is sub, the user's stable id at the issuer.
	Subject string
	// Audience is aud; it contains Config.Audience (the client id).
	Audience []string
	// AuthorizedParty is azp, the client the token was issued to.
	AuthorizedParty string
	// Nonce is the nonce of the authentication request.
	Nonce string
	// AccessTokenHash is at_hash (OIDC Core §3.1.3.6).
	AccessTokenHash string
	// Email is present with scope email.
	Email string
	// EmailVerified is present with scope email.
	EmailVerified bool
	// Name is present with scope profile.
	Name string
	// ExpiresAt is exp.
	ExpiresAt time.Time
	// IssuedAt is iat.
	IssuedAt time.Time
	// AuthTime is when the user signed in; zero when absent.
	AuthTime time.Time
	// Raw holds every claim as decoded JSON, for claims not named above.
	Raw map[string]any
}

// wireClaims is the JSON payload of either token kind.
type wireClaims struct {
	Issuer        string       `json:"iss"`
	Subject       string       `json:"sub"`
	Audience      audience     `json:"aud"`
	ExpiresAt     *numericDate `json:"exp"`
	NotBefore     *numericDate `json:"nbf"`
	IssuedAt      *numericDate `json:"iat"`
	AuthTime      *numericDate `json:"auth_time"`
	ClientID      string       `json:"client_id"`
	JTI           string       `json:"jti"`
	Scope         string       `json:"scope"`
	Roles         []string     `json:"roles"`
	Nonce         string       `json:"nonce"`
	AZP           string       `json:"azp"`
	AtHash        string       `json:"at_hash"`
	Email         string       `json:"email"`
	EmailVerified bool         `json:"email_verified"`
	Name          string       `json:"name"`
	Cnf           *cnf         `json:"cnf"`
}

// cnf is the confirmation claim (RFC 7800 §3.1).
type cnf struct {
	JKT string `json:"jkt"`
}

// jkt is the DPoP key thumbprint, or "" without one.
func (c *cnf) jkt() string {
	if c == nil {
		return ""
	}
	return c.JKT
}

// audience is aud: a single string or an array of strings (RFC 7519 §4.1.3).
type audience []string

// UnmarshalJSON accepts both forms.
func (a *audience) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*a = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// numericDate is a JWT time: seconds since the epoch, possibly fractional
// (RFC 7519 §2).
type numericDate struct{ time.Time }

// UnmarshalJSON accepts a finite, non-negative JSON number.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || f < 0 || math.IsInf(f, 0) || f > 1<<40 {
		return errors.New("a time claim is not a NumericDate")
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// timeOf returns d's time, or zero for an absent claim.
func timeOf(d *numericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}
