package tokens

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"idp/clients"
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
	// AMR and ACR say how the user authenticated (ID token amr and acr).
	AMR []string
	ACR string
	// JTI and AccessExpiresAt are fixed before the code is claimed, so the
	// claim itself records what a replay must revoke.
	JTI             string
	AccessExpiresAt time.Time
	// AccessAlg signs the access token when its resources ask for an
	// algorithm of their own; "" is the client's (the ID token's).
	AccessAlg     string
	RefreshFamily string
	// RefreshToken is the new refresh token to hand out, if the grant
	// includes offline access.
	RefreshToken string
	// UpstreamID and UpstreamSub: see Authn.
	UpstreamID, UpstreamSub string
}

// Meta describes the request for the account page's list of grants.
type Meta struct{ IP, UserAgent string }

// RedeemCode exchanges an authorization code at the token endpoint
// (RFC 6749 §4.1.3). The bindings (client, redirect_uri, PKCE) are checked
// before the code is claimed, so a wrong attempt does not burn the code of
// the legitimate client; the claim is one conditional update, so of
// concurrent redeemers exactly one wins. A replayed code revokes the access
// token issued from it (RFC 6749 §4.1.2) and is refused. resources are the
// token request's RFC 8707 resource indicators: they narrow the access
// token's audience to some of the resources the authorization granted (the
// refresh family keeps them all); one outside the grant is invalid_target,
// checked before the code is claimed. The access token carries only the
// granted API scopes its audience allows.
func (s *Service) RedeemCode(ctx context.Context, client *clients.Client, code, redirectURI, verifier string,
	resources []string, meta Meta) (*Grant, error) {
	if code == "" {
		return nil, oauth.InvalidRequest("code is missing")
	}
	if len(code) > 256 {
		return nil, oauth.InvalidGrant("the authorization code is malformed")
	}
	hash := oauth.HashSecret(code)
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
	if row.ClientID != client.ID {
		return nil, oauth.InvalidGrant("the authorization code was issued to another client")
	}
	if redirectURI != row.RedirectURI {
		return nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	if err := checkPKCE(row.CodeChallenge, verifier); err != nil {
		return nil, err
	}
	if row.DPoPJKT != "" && ProofKey(ctx) != row.DPoPJKT { // RFC 9449 §10
		return nil, oauth.InvalidGrant("the authorization code is bound to another DPoP key (dpop_jkt)")
	}
	audience, err := narrowResources(row.Resources, resources)
	if err != nil {
		return nil, err
	}
	terms, err := s.accessPolicy(ctx, client.SigningAlg, audience, now)
	if err != nil {
		return nil, err
	}
	scopes, _ := oauth.ParseScope(row.Scope)
	g := &Grant{
		ClientID: row.ClientID, UserID: row.UserID, SessionID: row.SessionID, Scopes: scopes,
		Nonce: row.Nonce, AuthTime: row.AuthTime, Resources: row.Resources, AMR: strings.Fields(row.AMR), ACR: row.ACR,
		JTI: oauth.NewSecret(16), AccessExpiresAt: terms.exp, AccessAlg: terms.alg,
		UpstreamID: row.UpstreamID, UpstreamSub: row.UpstreamSub,
	}
	var family *familyRow
	var first *refreshRow
	if client.AllowsGrant(clients.GrantRefreshToken) && slices.Contains(scopes, oauth.ScopeOfflineAccess) {
		g.RefreshFamily, g.RefreshToken = oauth.NewSecret(16), oauth.NewSecret(32)
		family, first = s.newFamily(g, now, meta)
		family.DPoPJKT = familyKey(ctx, client)
	}
	// This access token's audience and scopes: the narrowed audience may
	// allow fewer API scopes than were granted. The family keeps the
	// grant's.
	g.Resources, g.Scopes = audience, terms.allowed(scopes)
	// Claiming the code and creating the refresh family are one unit: a
	// replay that sees the claim also finds the family to revoke.
	var won bool
	err = s.store.tx(ctx, func(ctx context.Context) error {
		var err error
		if won, err = s.store.ClaimCode(ctx, hash, now, g.JTI, g.AccessExpiresAt, g.RefreshFamily); err != nil || !won {
			return err
		}
		if err := s.sessionGranted(ctx, g); err != nil {
			return err
		}
		if family != nil {
			return s.store.createFamily(ctx, family, first)
		}
		return nil
	})
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

// narrowResources answers a token request's resource indicators (RFC 8707
// §2.2): none keeps what was granted; otherwise each must be one the grant
// holds, and the token is for just those.
func narrowResources(granted, requested []string) ([]string, error) {
	if len(requested) == 0 {
		return granted, nil
	}
	out := make([]string, 0, len(requested))
	for _, r := range requested {
		if !slices.Contains(granted, r) {
			return nil, &oauth.Error{Code: "invalid_target", Status: 400,
				Description: "resource " + r + " was not part of the authorization"}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
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
		// Denied as long as VerifyAccessToken would accept it: exp + leeway.
		_ = s.store.RevokeJTI(ctx, row.AccessJTI, row.AccessExpiresAt.Add(leeway*time.Second))
	}
	if row.RefreshFamily != "" {
		_, _ = s.store.revokeFamily(ctx, row.RefreshFamily, s.now())
	}
}

// newFamily builds the rows of a new refresh family and its first token,
// which records the access token issued alongside it.
func (s *Service) newFamily(g *Grant, now time.Time, meta Meta) (*familyRow, *refreshRow) {
	f := &familyRow{
		ID: g.RefreshFamily, ClientID: g.ClientID, UserID: g.UserID, SessionID: g.SessionID,
		Scope: oauth.JoinScope(g.Scopes), Resources: nonNil(g.Resources), AuthTime: g.AuthTime,
		AMR: strings.Join(g.AMR, " "), ACR: g.ACR, UpstreamID: g.UpstreamID, UpstreamSub: g.UpstreamSub,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL),
		IP: db.Clip(meta.IP, 64), UserAgent: db.Clip(meta.UserAgent, 256),
	}
	return f, s.newRefreshRow(f, g.RefreshToken, "", g.JTI, g.AccessExpiresAt, now)
}

// newRefreshRow builds a token row; its idle expiry never passes the
// family's absolute expiry.
func (s *Service) newRefreshRow(f *familyRow, token, parent, jti string, accessExp, now time.Time) *refreshRow {
	idle := now.Add(s.cfg.RefreshIdleTTL)
	if idle.After(f.ExpiresAt) {
		idle = f.ExpiresAt
	}
	return &refreshRow{
		TokenHash: oauth.HashSecret(token), FamilyID: f.ID, ParentHash: parent, CreatedAt: now,
		IdleExpiresAt: idle, AccessJTI: jti, AccessExpiresAt: accessExp,
	}
}
