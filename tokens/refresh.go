package tokens

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"idp/clients"
	"idp/db"
	"idp/oauth"
	"idp/users"
)

// familyTouchInterval is how stale a family's last use may get before a
// refresh records it again (with the same address and user agent): the
// account page shows it to the minute, and a client refreshing in a tight
// loop then costs one write fewer per refresh.
const familyTouchInterval = time.Minute

// errLostRace means another request claimed the refresh token first.
var errLostRace = errors.New("refresh token claimed concurrently")

// errRevokedMeanwhile means the family was revoked after Refresh read it.
var errRevokedMeanwhile = errors.New("refresh family revoked concurrently")

// Refresh runs the refresh_token grant (RFC 6749 §6) with rotation and
// reuse detection (RFC 9700 §4.14.2). The new tokens are minted before the
// presented token is claimed, and the claim stores them sealed in the same
// conditional update, so however many requests race with one token exactly
// one child is minted, and every racer inside the grace window receives
// that same child. A reuse after the window revokes the whole family.
// scope and resources (RFC 8707 §2.2) may narrow this access token, never
// widen it; the family keeps what was granted.
func (s *Service) Refresh(ctx context.Context, client *clients.Client, presented, scope string, resources []string,
	meta Meta) (*Response, error) {
	if presented == "" || len(presented) > 256 {
		return nil, oauth.InvalidGrant("the refresh token is missing or malformed")
	}
	hash := oauth.HashSecret(presented)
	row, fam, err := s.store.refresh(ctx, hash)
	if errors.Is(err, db.ErrNotFound) {
		return nil, oauth.InvalidGrant("the refresh token is invalid, expired or revoked")
	}
	if err != nil {
		return nil, fmt.Errorf("load refresh token: %w", err)
	}
	if fam.ClientID != client.ID {
		return nil, oauth.InvalidGrant("the refresh token was issued to another client")
	}
	if err := checkFamilyKey(ctx, fam); err != nil {
		return nil, err
	}
	if row.UsedAt != nil {
		return s.reused(ctx, row, fam)
	}
	now := s.now()
	switch {
	case fam.RevokedAt != nil:
		return nil, oauth.InvalidGrant("the refresh token is invalid, expired or revoked")
	case !now.Before(fam.ExpiresAt) || !now.Before(row.IdleExpiresAt):
		return nil, oauth.InvalidGrant("the refresh token has expired")
	}
	user, err := s.users.ByID(ctx, fam.UserID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && user.Disabled) {
		return nil, oauth.InvalidGrant("the user is no longer allowed to sign in")
	}
	if err != nil {
		return nil, err
	}
	if fam.UpstreamID != "" && s.cfg.UpstreamCheck != nil {
		// Outside any transaction: it may wait on the upstream.
		if err := s.checkUpstream(ctx, fam); err != nil {
			return nil, err
		}
		// The check applies the upstream's claim mapping to the user (a
		// changed roles claim changes the roles); mint from what it left.
		user, err = s.users.ByID(ctx, fam.UserID)
		if errors.Is(err, db.ErrNotFound) || (err == nil && user.Disabled) {
			return nil, oauth.InvalidGrant("the user is no longer allowed to sign in")
		}
		if err != nil {
			return nil, err
		}
	}
	resp, child, err := s.mintRefresh(ctx, client, fam, user, hash, scope, resources, now)
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal(resp, hash)
	if err != nil {
		return nil, err
	}
	err = s.store.tx(ctx, func(ctx context.Context) error {
		// A revocation that landed since the read above wins (RFC 7009
		// §2.1): no child, and no access token the revocation missed.
		live, err := s.store.holdFamily(ctx, fam.ID)
		if err != nil {
			return err
		}
		if !live {
			return errRevokedMeanwhile
		}
		won, err := s.store.claimRefresh(ctx, hash, now, sealed, now.Add(s.cfg.ReuseGrace))
		if err != nil {
			return err
		}
		if !won {
			return errLostRace
		}
		if err := s.store.insertToken(ctx, child); err != nil {
			return err
		}
		ip, ua := db.Clip(meta.IP, 64), db.Clip(meta.UserAgent, 256)
		if now.Sub(fam.LastUsedAt) < familyTouchInterval && fam.IP == ip && fam.UserAgent == ua {
			return nil // the account page's "last used" is already right to the minute
		}
		return s.store.touchFamily(ctx, fam.ID, now, ip, ua)
	})
	if errors.Is(err, errRevokedMeanwhile) {
		return nil, oauth.InvalidGrant("the refresh token is invalid, expired or revoked")
	}
	if errors.Is(err, errLostRace) {
		// The winner committed before our update returned: its child is
		// sealed on the row now.
		if row, fam, err = s.store.refresh(ctx, hash); err != nil {
			return nil, fmt.Errorf("reload refresh token: %w", err)
		}
		return s.reused(ctx, row, fam)
	}
	if err != nil {
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	return resp, nil
}

// mintRefresh signs the tokens of one refresh. The scope and resources may
// narrow, never widen (RFC 6749 §6, RFC 8707 §2.2); the access token
// carries only API scopes its audience allows as the resources stand now
// (an explicit scope it does not allow is invalid_scope). The new refresh
// token keeps the family's grant.
func (s *Service) mintRefresh(ctx context.Context, client *clients.Client, fam *familyRow, user *users.User,
	parent, scope string, resources []string, now time.Time) (*Response, *refreshRow, error) {
	granted, _ := oauth.ParseScope(fam.Scope)
	var req []string
	if scope != "" {
		var ok bool
		req, ok = oauth.ParseScope(scope)
		if !ok || !oauth.Subset(req, granted) {
			return nil, nil, oauth.InvalidScope("scope exceeds what was granted")
		}
	}
	audience, err := narrowResources(fam.Resources, resources)
	if err != nil {
		return nil, nil, err
	}
	terms, err := s.accessPolicy(ctx, client.SigningAlg, audience, now)
	if err != nil {
		return nil, nil, err
	}
	// An explicit scope must be one the audience allows; without one the
	// token carries what was granted and the audience allows now.
	scopes := terms.allowed(granted)
	if scope != "" {
		if err := terms.check(req); err != nil {
			return nil, nil, err
		}
		scopes = req
	}
	g := &Grant{
		ClientID: fam.ClientID, UserID: fam.UserID, SessionID: fam.SessionID, Scopes: scopes,
		AuthTime: fam.AuthTime, Resources: audience, AMR: strings.Fields(fam.AMR), ACR: fam.ACR, JTI: oauth.NewSecret(16),
		AccessExpiresAt: terms.exp, AccessAlg: terms.alg, RefreshFamily: fam.ID, RefreshToken: oauth.NewSecret(32),
	}
	resp, err := s.Mint(ctx, client.SigningAlg, g, user)
	if err != nil {
		return nil, nil, err
	}
	return resp, s.newRefreshRow(fam, g.RefreshToken, parent, g.JTI, g.AccessExpiresAt, now), nil
}

// reused answers a refresh token presented again: the same response inside
// the grace window (a lost response retried), otherwise invalid_grant and
// the whole family revoked, newest token and its access tokens included.
func (s *Service) reused(ctx context.Context, row *refreshRow, fam *familyRow) (*Response, error) {
	now := s.now()
	if fam.RevokedAt == nil && row.ChildUntil != nil && now.Before(*row.ChildUntil) && row.ChildSealed != nil {
		resp, err := s.unseal(row.ChildSealed, row.TokenHash)
		if err == nil {
			return resp, nil
		}
		return nil, fmt.Errorf("open sealed refresh response: %w", err)
	}
	revoked, err := s.store.revokeFamily(ctx, fam.ID, now)
	if err != nil {
		return nil, fmt.Errorf("revoke family: %w", err)
	}
	if revoked {
		s.audit(ctx, "refresh.reuse_detected", fam.ID, "client="+fam.ClientID+" user="+fam.UserID+" family revoked")
	}
	return nil, oauth.InvalidGrant("the refresh token was already used; the grant has been revoked")
}

// RevokeRefresh revokes the family of a refresh token if it belongs to the
// client (RFC 7009). found reports whether it was a refresh token at all.
func (s *Service) RevokeRefresh(ctx context.Context, clientID, token string) (found bool, err error) {
	_, fam, err := s.store.refresh(ctx, oauth.HashSecret(token))
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fam.ClientID != clientID {
		return true, nil // not this client's to revoke; say nothing
	}
	revoked, err := s.store.revokeFamily(ctx, fam.ID, s.now())
	if revoked {
		s.audit(ctx, "family.revoked", fam.ID, "client="+fam.ClientID+" user="+fam.UserID+" by revocation endpoint")
	}
	return true, err
}

// seal encrypts a response with AES-256-GCM; the parent token's hash is the
// associated data, so a sealed child cannot be replayed under another row.
func (s *Service) seal(resp *Response, parent string) ([]byte, error) {
	plain, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte(parent)), nil
}

func (s *Service) unseal(sealed []byte, parent string) (*Response, error) {
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed response too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(parent))
	if err != nil {
		return nil, err
	}
	var resp Response
	return &resp, json.Unmarshal(plain, &resp)
}

func (s *Service) aead() (cipher.AEAD, error) {
	if len(s.cfg.SealKey) != 32 {
		return nil, errors.New("tokens: SealKey must be 32 bytes")
	}
	block, err := aes.NewCipher(s.cfg.SealKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
