package logout

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// EventBackchannelLogout is the events member of a logout token
// (Back-Channel Logout 1.0 §2.4).
const EventBackchannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// TokenType is the typ header of a logout token (Back-Channel Logout 1.0
// §2.4, recommended so it cannot pass for an ID token).
const TokenType = "logout+jwt"

// Claims is a logout token's claim set (Back-Channel Logout 1.0 §2.4).
// It has no nonce: §2.4 forbids one, so a logout token can never be
// replayed as an ID token.
type Claims struct {
	Issuer    string              `json:"iss"`
	Audience  string              `json:"aud"`
	IssuedAt  int64               `json:"iat"`
	ExpiresAt int64               `json:"exp"`
	JTI       string              `json:"jti"`
	Subject   string              `json:"sub"`
	SessionID string              `json:"sid"`
	Events    map[string]struct{} `json:"events"`
}

// token signs a fresh logout token for client clientID with alg, telling
// it that user sub's session sid ended. Every attempt signs a new one
// (new jti, fresh exp), so a retry never sends an expired token.
func (s *Service) token(ctx context.Context, alg, clientID, sub, sid string, now time.Time) (string, error) {
	c := Claims{Issuer: s.cfg.Issuer, Audience: clientID, IssuedAt: now.Unix(), ExpiresAt: now.Add(s.cfg.TokenTTL).Unix(),
		JTI: rand.Text(), Subject: sub, SessionID: sid, Events: map[string]struct{}{EventBackchannelLogout: {}}}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode logout token: %w", err)
	}
	tok, err := s.signer.Sign(ctx, alg, payload, TokenType)
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return tok, nil
}
