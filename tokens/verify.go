package tokens

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"idp/oauth"
)

// leeway tolerates small clock differences between replicas.
const leeway = 30 // seconds

// VerifyAccessToken checks a bearer access token presented to idp itself
// (UserInfo, introspection, the admin API): signature by a published idp
// key (the key decides the algorithm), typ at+jwt (RFC 9068 §4), issuer,
// expiry, and the revocation denylist. Every failure is invalid_token.
func (s *Service) VerifyAccessToken(ctx context.Context, token string) (*AccessClaims, error) {
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
	now := s.now().Unix()
	switch {
	case c.Issuer != s.cfg.Issuer:
		return nil, oauth.InvalidToken("the access token was issued by someone else")
	case c.ExpiresAt == 0 || now >= c.ExpiresAt+leeway:
		return nil, oauth.InvalidToken("the access token has expired")
	case c.IssuedAt > now+leeway:
		return nil, oauth.InvalidToken("the access token is not valid yet")
	case c.JTI == "" || c.Subject == "":
		return nil, oauth.InvalidToken("the access token is malformed")
	}
	revoked, err := s.store.Revoked(ctx, c.JTI)
	if err != nil {
		return nil, fmt.Errorf("check denylist: %w", err)
	}
	if revoked {
		return nil, oauth.InvalidToken("the access token has been revoked")
	}
	return &c, nil
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
