package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"idp/db"
	"idp/oauth"
)

// Grant is what a redeemed code (or, later, a refresh token) entitles the
// client to: the input of Mint.
type Grant struct {
	ClientID  string
	UserID    string
	SessionID string
	Scopes    []string
	Nonce     string
	AuthTime  time.Time
	Resources []string
	// JTI and AccessExpiresAt are fixed before the code is claimed, so the
	// claim itself records what a replay must revoke.
	JTI             string
	AccessExpiresAt time.Time
	RefreshFamily   string
}

// RedeemCode exchanges an authorization code at the token endpoint
// (RFC 6749 §4.1.3). The bindings (client, redirect_uri, PKCE) are checked
// before the code is claimed, so a wrong attempt does not burn the code of
// the legitimate client; the claim is one conditional update, so of
// concurrent redeemers exactly one wins. A replayed code revokes the access
// token issued from it (RFC 6749 §4.1.2) and is refused.
func (s *Service) RedeemCode(ctx context.Context, clientID, code, redirectURI, verifier string) (*Grant, error) {
	if code == "" || len(code) > 256 {
		return nil, oauth.InvalidGrant("the authorization code is missing or malformed")
	}
	hash := Hash(code)
	row, err := s.store.code(ctx, hash)
	if errors.Is(err, db.ErrNotFound) {
		return nil, oauth.InvalidGrant("the authorization code is invalid, expired or already used")
	}
	if err != nil {
		return nil, fmt.Errorf("load code: %w", err)
	}
	now := s.now()
	if row.UsedAt != nil {
		s.revokeReplayed(ctx, row)
		return nil, oauth.InvalidGrant("the authorization code is invalid, expired or already used")
	}
	if !now.Before(row.ExpiresAt) {
		return nil, oauth.InvalidGrant("the authorization code is invalid, expired or already used")
	}
	if row.ClientID != clientID {
		return nil, oauth.InvalidGrant("the authorization code was issued to another client")
	}
	if redirectURI != row.RedirectURI {
		return nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	if err := checkPKCE(row.CodeChallenge, verifier); err != nil {
		return nil, err
	}
	scopes, _ := oauth.ParseScope(row.Scope)
	g := &Grant{
		ClientID: row.ClientID, UserID: row.UserID, SessionID: row.SessionID, Scopes: scopes,
		Nonce: row.Nonce, AuthTime: row.AuthTime, Resources: row.Resources,
		JTI: randomToken(16), AccessExpiresAt: now.Add(s.cfg.AccessTokenTTL),
	}
	won, err := s.store.ClaimCode(ctx, hash, now, g.JTI, g.AccessExpiresAt, g.RefreshFamily)
	if err != nil {
		return nil, fmt.Errorf("claim code: %w", err)
	}
	if !won {
		// Someone redeemed it between our read and our claim: a replay.
		if row, err := s.store.code(ctx, hash); err == nil && row.UsedAt != nil {
			s.revokeReplayed(ctx, row)
		}
		return nil, oauth.InvalidGrant("the authorization code is invalid, expired or already used")
	}
	return g, nil
}

// checkPKCE enforces RFC 7636 §4.6 and RFC 9700 §2.1.1: a verifier is
// required exactly when the request carried a challenge.
func checkPKCE(challenge, verifier string) error {
	switch {
	case challenge == "" && verifier != "":
		return oauth.InvalidGrant("code_verifier sent but the authorization request had no code_challenge")
	case challenge == "":
		return nil
	case verifier == "":
		return oauth.InvalidGrant("code_verifier is required")
	case !oauth.VerifyPKCE(challenge, verifier):
		return oauth.InvalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// revokeReplayed denylists what a replayed code issued. Failures are not
// fatal to the refusal itself.
func (s *Service) revokeReplayed(ctx context.Context, row *codeRow) {
	if row.AccessJTI != "" && row.AccessExpiresAt != nil {
		_ = s.store.RevokeJTI(ctx, row.AccessJTI, *row.AccessExpiresAt)
	}
}
