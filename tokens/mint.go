package tokens

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"idp/oauth"
	"idp/users"
)

// Response is a successful token endpoint response (RFC 6749 §5.1,
// OIDC Core §3.1.3.3).
type Response struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// Mint signs the access token and, when the grant includes openid and a
// user, the ID token, with alg, the client's algorithm (the access token
// with g.AccessAlg instead when its resources ask for one). u is nil for a
// client acting on its own behalf (client_credentials): sub is then the
// client id and there are no roles.
func (s *Service) Mint(ctx context.Context, alg string, g *Grant, u *users.User) (*Response, error) {
	iat := s.now().Unix()
	exp := g.AccessExpiresAt.Unix()
	at := AccessClaims{
		Issuer: s.cfg.Issuer, Subject: g.ClientID, Audience: Audience{g.ClientID}, ClientID: g.ClientID,
		ExpiresAt: exp, IssuedAt: iat, JTI: g.JTI, Scope: oauth.JoinScope(g.Scopes), Roles: []string{},
	}
	if len(g.Resources) > 0 {
		at.Audience = Audience(g.Resources)
	}
	var tokenType string
	at.Cnf, tokenType = confirmation(ctx) // DPoP-bound when the request carried a proof (RFC 9449 §5)
	if u != nil {
		at.Subject, at.AuthTime, at.ACR, at.AMR = u.ID, g.AuthTime.Unix(), g.ACR, g.AMR
		if u.Roles != nil {
			at.Roles = u.Roles
		}
	}
	accessAlg := alg
	if g.AccessAlg != "" {
		accessAlg = g.AccessAlg
	}
	access, err := s.sign(ctx, accessAlg, at, "at+jwt")
	if err != nil {
		return nil, err
	}
	resp := &Response{AccessToken: access, TokenType: tokenType, ExpiresIn: exp - iat, Scope: at.Scope, RefreshToken: g.RefreshToken}
	if u == nil || !slices.Contains(g.Scopes, oauth.ScopeOpenID) {
		return resp, nil
	}
	// The ID token is the client's: a resource's shorter lifetime is only
	// for the access token.
	idExp := max(exp, iat+int64(s.cfg.AccessTokenTTL/time.Second))
	id := IDClaims{
		Issuer: s.cfg.Issuer, Subject: u.ID, Audience: g.ClientID, ExpiresAt: idExp, IssuedAt: iat,
		AuthTime: g.AuthTime.Unix(), Nonce: g.Nonce, AccessHash: accessHash(access), AZP: g.ClientID,
		SessionID: g.SessionID, AMR: g.AMR, ACR: g.ACR,
	}
	userClaims(&id, u, g.Scopes)
	if resp.IDToken, err = s.sign(ctx, alg, id, "JWT"); err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Service) sign(ctx context.Context, alg string, claims any, typ string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	tok, err := s.signer.Sign(ctx, alg, payload, typ)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", typ, err)
	}
	return tok, nil
}
