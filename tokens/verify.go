package tokens

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"idp/oauth"
)

// leeway tolerates small clock differences between replicas.
const leeway = 30 // seconds

// VerifyAccessToken checks a bearer access token presented to idp itself
// (UserInfo, introspection, the admin API): signature by a published idp
// key (the key decides the algorithm), typ at+jwt (RFC 9068 §4), issuer,
// expiry, and the revocation denylist. Every failure is invalid_token.
func (s *Service) VerifyAccessToken(ctx context.Context, token string) (*AccessClaims, error) {
	c, err := s.parseAccess(ctx, token)
	if err != nil {
		return nil, err
	}
	now := s.now().Unix()
	switch {
	case now >= c.ExpiresAt+leeway:
		return nil, oauth.InvalidToken("the access token has expired")
	case c.IssuedAt > now+leeway:
		return nil, oauth.InvalidToken("the access token is not valid yet")
	}
	revoked, err := s.store.Revoked(ctx, c.JTI)
	if err != nil {
		return nil, fmt.Errorf("check denylist: %w", err)
	}
	if revoked {
		return nil, oauth.InvalidToken("the access token has been revoked")
	}
	return c, nil
}

// parseAccess checks everything about an access token but time and the
// denylist: a published idp key, typ, issuer and required claims.
func (s *Service) parseAccess(ctx context.Context, token string) (*AccessClaims, error) {
	if token == "" || len(token) > 8192 || strings.Count(token, ".") != 2 {
		return nil, oauth.InvalidToken("the access token is malformed")
	}
	if typ, err := headerType(token); err != nil || !isAccessTokenType(typ) {
		return nil, oauth.InvalidToken("not an access token")
	}
	payload, _, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return nil, oauth.InvalidToken("the access token signature is invalid").Wrap(err)
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, oauth.InvalidToken("the access token is malformed")
	}
	switch {
	case c.Issuer != s.cfg.Issuer:
		return nil, oauth.InvalidToken("the access token was issued by someone else")
	case c.JTI == "" || c.Subject == "" || c.ExpiresAt == 0:
		return nil, oauth.InvalidToken("the access token is malformed")
	}
	return &c, nil
}

// RevokeAccess denylists an access token of the client until it expires
// (RFC 7009). found reports whether it was one of idp's access tokens.
func (s *Service) RevokeAccess(ctx context.Context, clientID, token string) (found bool, err error) {
	c, err := s.parseAccess(ctx, token)
	if err != nil {
		return false, nil
	}
	if c.ClientID != clientID || s.now().Unix() >= c.ExpiresAt+leeway {
		return true, nil // another client's, or dead already: nothing to do
	}
	return true, s.store.RevokeJTI(ctx, c.JTI, time.Unix(c.ExpiresAt+leeway, 0).UTC())
}

// headerType reads typ from a compact JWS header. The signature is checked
// separately; typ only tells access tokens from ID tokens.
func headerType(token string) (string, error) {
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", err
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", err
	}
	return h.Typ, nil
}

// isAccessTokenType accepts "at+jwt" and "application/at+jwt" (RFC 9068 §2.1).
func isAccessTokenType(typ string) bool {
	t := strings.ToLower(typ)
	return t == "at+jwt" || t == "application/at+jwt"
}

// ParseIDTokenHint checks an id_token_hint (OIDC RP-Initiated Logout §2):
// signed by a key idp still publishes (a retired key counts) and issued by
// idp. Expiry is deliberately not checked — a hint is often stale by the
// time the user signs out.
func (s *Service) ParseIDTokenHint(ctx context.Context, token string) (*IDClaims, error) {
	if token == "" || len(token) > 8192 || strings.Count(token, ".") != 2 {
		return nil, oauth.InvalidRequest("id_token_hint is malformed")
	}
	if typ, err := headerType(token); err != nil || isAccessTokenType(typ) {
		return nil, oauth.InvalidRequest("id_token_hint is not an ID token")
	}
	payload, _, err := s.verifier.Verify(ctx, token)
	if err != nil {
		return nil, oauth.InvalidRequest("id_token_hint is not a valid ID token from this provider").Wrap(err)
	}
	var c IDClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Issuer != s.cfg.Issuer || c.Subject == "" || c.Audience == "" {
		return nil, oauth.InvalidRequest("id_token_hint is not a valid ID token from this provider")
	}
	return &c, nil
}
