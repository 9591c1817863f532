package verifier

import (
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"

	"idp/dpop"
)

// Verifier checks tokens of one issuer for one audience. Build it with New
// (the zero value is not usable); it is safe for concurrent use, so build
// one per process and share it.
type Verifier struct {
	cfg         Config
	keys        *keyCache
	metadataURL string           // MetadataURL(cfg.Resource), or "" without a resource
	replay      dpop.ReplayCache // DPoP proofs seen (dpop.go)
}

// New fetches the issuer's discovery document (unless cfg.JWKSURL is set)
// and its JWKS once, so a misconfiguration fails at start-up rather than on
// the first request.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	jwksURL := cfg.JWKSURL
	if jwksURL == "" {
		if jwksURL, err = discover(ctx, cfg); err != nil {
			return nil, fmt.Errorf("verifier: %w", err)
		}
	}
	kc := &keyCache{url: jwksURL, client: cfg.HTTPClient, now: cfg.Now, minInterval: cfg.MinRefetchInterval}
	if err := kc.load(ctx); err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	v := &Verifier{cfg: cfg, keys: kc, replay: memoryReplay(cfg)}
	if cfg.Resource != "" {
		v.metadataURL, _ = MetadataURL(cfg.Resource) // checked by withDefaults
	}
	return v, nil
}

// VerifyAccessToken checks a JWT access token (RFC 9068 §4): typ at+jwt,
// a signature by a published key with that key's algorithm, iss, aud
// containing Config.Audience, exp, nbf and iat within the leeway, and the
// required claims of §2.2. Any failure wraps ErrInvalidToken and one of the
// more specific errors. It does not consult a revocation list: a revoked
// access token stays valid here until exp, which is why they are short-lived.
// A DPoP-bound token (JKT set) verifies here without its proof: callers
// outside Middleware must check the proof themselves, or refuse it.
func (v *Verifier) VerifyAccessToken(ctx context.Context, raw string) (*AccessClaims, error) {
	c, all, err := v.verify(ctx, raw, isAccessTokenType)
	if err != nil {
		return nil, fmt.Errorf("verify access token: %w", err)
	}
	if c.Subject == "" || c.ClientID == "" || c.JTI == "" {
		return nil, fmt.Errorf("verify access token: %w: sub, client_id or jti missing (RFC 9068 §2.2)", ErrInvalidToken)
	}
	return &AccessClaims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ClientID: c.ClientID, JTI: c.JTI,
		Scope: c.Scope, Roles: c.Roles, ExpiresAt: c.ExpiresAt.Time, IssuedAt: c.IssuedAt.Time,
		AuthTime: timeOf(c.AuthTime), JKT: c.Cnf.jkt(), Raw: all,
	}, nil
}

// VerifyIDToken checks an ID token as OIDC Core §3.1.3.7 asks: typ JWT or
// absent (never at+jwt), signature, iss, aud containing Config.Audience (the
// client id), azp equal to it when present (it must be present when there
// are several audiences), exp and iat. When nonce is not empty, the token's
// nonce must equal it (§3.1.3.7 step 11); pass the nonce of the
// authentication request to stop replayed ID tokens.
func (v *Verifier) VerifyIDToken(ctx context.Context, raw, nonce string) (*IDClaims, error) {
	c, all, err := v.verify(ctx, raw, isIDTokenType)
	if err != nil {
		return nil, fmt.Errorf("verify ID token: %w", err)
	}
	switch {
	case c.Subject == "":
		return nil, fmt.Errorf("verify ID token: %w: sub missing", ErrInvalidToken)
	case len(c.Audience) > 1 && c.AZP == "":
		return nil, fmt.Errorf("verify ID token: %w: several audiences and no azp", ErrAudience)
	case c.AZP != "" && c.AZP != v.cfg.Audience:
		return nil, fmt.Errorf("verify ID token: %w: azp %q is another client", ErrAudience, c.AZP)
	case nonce != "" && subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1:
		return nil, fmt.Errorf("verify ID token: %w", ErrNonce)
	}
	return &IDClaims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, AuthorizedParty: c.AZP, Nonce: c.Nonce,
		AccessTokenHash: c.AtHash, Email: c.Email, EmailVerified: c.EmailVerified, Name: c.Name,
		ExpiresAt: c.ExpiresAt.Time, IssuedAt: c.IssuedAt.Time, AuthTime: timeOf(c.AuthTime), Raw: all,
	}, nil
}

// isAccessTokenType accepts the RFC 9068 §4 media type, with or without its
// "application/" prefix, case-insensitively (RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	t := strings.ToLower(typ)
	return t == "at+jwt" || t == "application/at+jwt"
}

// isIDTokenType accepts what OIDC Core leaves open: "JWT" (RFC 7519 §5.1)
// or no typ at all. Anything else, at+jwt above all, is another kind of
// token.
func isIDTokenType(typ string) bool {
	return slices.Contains([]string{"", "jwt", "application/jwt"}, strings.ToLower(typ))
}
