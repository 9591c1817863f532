package upstreams

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"idp/db"
)

// Refresh checks the upstream (issue #18; Dex does not): a federated
// sign-in keeps, sealed on its link, what idp needs to ask the upstream
// again (the refresh token of an oidc upstream; the access token, and a
// refresh token when given, of an oauth2 or github one). At each idp
// refresh of a family that came from that link, Check asks the upstream
// again, at most once per Config.CheckInterval, and re-applies the
// upstream's rules and claim mapping exactly as a sign-in does.

// grant is what a link keeps to ask its upstream again; sealed at rest.
type grant struct {
	RefreshToken string `json:"rt,omitempty"`
	AccessToken  string `json:"at,omitempty"`
	// ExpiresAt is when AccessToken expires (zero: not said).
	ExpiresAt time.Time `json:"exp,omitzero"`
	// Scope is what the upstream said it granted (nil: not said).
	Scope *string `json:"scope,omitempty"`
}

// grantOf is what to keep of token response tok at u; nil when there is
// nothing to ask with later (an oidc upstream that issued no refresh
// token, for example because offline_access was not asked for).
func grantOf(u *Upstream, tok *tokenResponse, now time.Time) *grant {
	if tok == nil {
		return nil
	}
	if u.Kind == KindOIDC {
		if tok.RefreshToken == "" {
			return nil
		}
		return &grant{RefreshToken: tok.RefreshToken}
	}
	if tok.AccessToken == "" {
		return nil
	}
	g := &grant{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Scope: tok.Scope}
	if tok.ExpiresIn > 0 {
		g.ExpiresAt = now.Add(time.Duration(tok.ExpiresIn) * time.Second).UTC()
	}
	return g
}

// grantAAD binds a sealed grant to its link, so a sealed grant copied
// onto another link's row (or taken for a client secret) does not open.
func grantAAD(upstreamID, sub string) []byte {
	return []byte("upstream-grant\x00" + upstreamID + "\x00" + sub)
}

func (s *Service) sealGrant(upstreamID, sub string, g *grant) []byte {
	plain, _ := json.Marshal(g) // a struct of strings and a time: cannot fail
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, grantAAD(upstreamID, sub))
}

func (s *Service) openGrant(upstreamID, sub string, sealed []byte) (*grant, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("the sealed upstream grant is damaged")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], grantAAD(upstreamID, sub))
	if err != nil {
		return nil, fmt.Errorf("upstream %q: the sealed grant does not open under this master key", upstreamID)
	}
	var g grant
	if err := json.Unmarshal(plain, &g); err != nil {
		return nil, fmt.Errorf("upstream %q: sealed grant: %w", upstreamID, err)
	}
	return &g, nil
}

// keepGrant stores what sign-in response tok gave to ask the upstream
// again on the link of (u, sub), and records the sign-in as a check. A
// sign-in that gave nothing keeps what an earlier one gave. The grant it
// replaces is given back to the upstream (giveBack): idp will not use it
// again.
func (s *Service) keepGrant(ctx context.Context, u *Upstream, sub string, tok *tokenResponse) error {
	now := s.cfg.Now().UTC()
	g := grantOf(u, tok, now)
	if g == nil {
		return s.store.saveGrant(ctx, u.ID, sub, nil, now)
	}
	var old *grant
	if kept, err := s.store.linkGrant(ctx, u.ID, sub); err == nil && len(kept.Sealed) > 0 {
		old, _ = s.openGrant(u.ID, sub, kept.Sealed) // one that does not open cannot be given back
	}
	if err := s.store.saveGrant(ctx, u.ID, sub, s.sealGrant(u.ID, sub, g), now); err != nil {
		return err
	}
	if old != nil {
		s.giveBack(u, sub, old)
	}
	return nil
}

// Check asks upstream upstreamID again whether its account sub may still
// sign in as idp user userID, for an idp refresh (RFC 6749 §6) of a
// family signed in through it. It returns nil when the upstream agrees,
// when the link keeps nothing to ask with (the upstream gave no refresh
// or access token: such families are not checked), or when the last
// check is younger than Config.CheckInterval. An error matching
// ErrRefused means the upstream no longer vouches for the person: it
// refused the grant (invalid_grant, 401), answered with an identity that
// does not check out, or the person no longer passes the upstream's
// allowed domains or required group; the link is gone, too. Any other
// error (unreachable, 5xx, slow, a broken answer) says nothing about the
// person and should leave their tokens alone.
//
// A refreshed identity updates the user as a sign-in does (name,
// email_verified, roles from the roles claim), so the next idp access
// token carries the upstream's current roles.
func (s *Service) Check(ctx context.Context, userID, upstreamID, sub string) error {
	defer s.checks.lock(upstreamID + "\x00" + sub)()
	lg, err := s.store.linkGrant(ctx, upstreamID, sub)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return fmt.Errorf("%w: the upstream account is no longer linked", ErrRefused)
	case err != nil:
		return err
	case lg.UserID != userID:
		return fmt.Errorf("%w: the upstream account is now linked to another user", ErrRefused)
	case len(lg.Sealed) == 0:
		return nil // nothing to ask with: as before checks existed
	}
	now := s.cfg.Now().UTC()
	if lg.CheckedAt != nil && now.Sub(*lg.CheckedAt) < s.cfg.CheckInterval {
		return nil
	}
	u, err := s.store.ByID(ctx, upstreamID)
	if errors.Is(err, ErrUnknown) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	} else if err != nil {
		return err
	}
	g, err := s.openGrant(upstreamID, sub, lg.Sealed)
	if err != nil {
		return err
	}
	ident, next, err := s.ask(ctx, u, g, now)
	if err == nil && ident != nil {
		err = s.reapply(ctx, u, userID, sub, ident)
	}
	if err != nil {
		if !refusal(err) {
			return err
		}
		// A racer (another replica, or a sign-in) may have used and
		// rotated the grant meanwhile: its fresh grant is the upstream's
		// yes, and the refusal was of the grant it replaced.
		if cur, e := s.store.linkGrant(ctx, upstreamID, sub); e == nil && len(cur.Sealed) > 0 && !bytes.Equal(cur.Sealed, lg.Sealed) {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	sealed := lg.Sealed
	if next != nil {
		sealed = s.sealGrant(upstreamID, sub, next)
	}
	return s.store.swapGrant(ctx, upstreamID, sub, lg.Sealed, sealed, now)
}

// refusal reports whether err is the upstream's (or its rules') "no",
// rather than a failure to get an answer.
func refusal(err error) bool {
	for _, e := range []error{errGrantRefused, errUnauthorized, ErrForged, ErrNotAllowed, ErrDisabled, ErrNoAccount, ErrRefused} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ask asks u again with g: for oidc a refresh_token grant (OIDC Core §12)
// whose ID token, if one comes back, is verified as at sign-in but
// without a nonce (§12.2: a refreshed ID token need not carry one); for
// oauth2 and github the userinfo or GitHub API with the access token,
// refreshed first when it has expired (or is refused) and a refresh token
// is kept. ident is nil when an oidc upstream renewed the grant without
// an ID token: its yes is all there is to go by. next is the grant to
// keep from now on, nil when unchanged.
func (s *Service) ask(ctx context.Context, u *Upstream, g *grant, now time.Time) (ident *Identity, next *grant, err error) {
	p, err := s.provider(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	if u.Kind == KindOIDC {
		tok, err := s.refreshAt(ctx, u, p, g)
		if err != nil {
			return nil, nil, err
		}
		if tok.RefreshToken != "" && tok.RefreshToken != g.RefreshToken {
			next = &grant{RefreshToken: tok.RefreshToken} // rotated (RFC 9700 §4.14.2)
		}
		if tok.IDToken == "" {
			return nil, next, nil
		}
		claims, err := p.verifier.VerifyIDToken(ctx, tok.IDToken, "")
		if err != nil {
			return nil, nil, fmt.Errorf("%w: refreshed ID token: %w", ErrForged, err)
		}
		ident, err = u.Claims.identity(u.Kind, claims.Raw)
		return ident, next, err
	}
	refreshed := false
	if g.RefreshToken != "" && !g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt.Add(-30*time.Second)) {
		if g, err = s.renew(ctx, u, p, g, now); err != nil {
			return nil, nil, err
		}
		next, refreshed = g, true
	}
	ident, err = s.userinfo(ctx, u, p, g)
	if errors.Is(err, errUnauthorized) && g.RefreshToken != "" && !refreshed {
		if g, err = s.renew(ctx, u, p, g, now); err != nil {
			return nil, nil, err
		}
		next = g
		ident, err = s.userinfo(ctx, u, p, g)
	}
	return ident, next, err
}

// refreshAt runs the refresh_token grant at u's token endpoint.
func (s *Service) refreshAt(ctx context.Context, u *Upstream, p *provider, g *grant) (*tokenResponse, error) {
	return s.postToken(ctx, u, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}})
}

// renew refreshes the access token of an oauth2 or github grant; the
// refresh token and scope stay when the answer does not replace them
// (RFC 6749 §5.1, §6).
func (s *Service) renew(ctx context.Context, u *Upstream, p *provider, g *grant, now time.Time) (*grant, error) {
	tok, err := s.refreshAt(ctx, u, p, g)
	if err != nil {
		return nil, err
	}
	if _, err := bearer(tok); err != nil {
		return nil, err
	}
	ng := grantOf(u, tok, now)
	if ng.RefreshToken == "" {
		ng.RefreshToken = g.RefreshToken
	}
	if ng.Scope == nil {
		ng.Scope = g.Scope
	}
	return ng, nil
}

// userinfo reads the identity of an oauth2 or github grant as a sign-in
// does.
func (s *Service) userinfo(ctx context.Context, u *Upstream, p *provider, g *grant) (*Identity, error) {
	tok := &tokenResponse{AccessToken: g.AccessToken, TokenType: "Bearer", Scope: g.Scope}
	if u.Kind == KindGitHub {
		return s.githubIdentity(ctx, u, p, tok)
	}
	return s.oauth2Identity(ctx, u, p, tok)
}

// reapply holds the refreshed identity to u's rules and mapping, exactly
// as resolve does at a sign-in: the same subject (OIDC Core §12.2), the
// allowed domains and required group (admit), an enabled user, and the
// claim mapping onto the user (applyClaims).
func (s *Service) reapply(ctx context.Context, u *Upstream, userID, sub string, ident *Identity) error {
	if ident.Subject != sub {
		return fmt.Errorf("%w: the upstream answered for another account", ErrForged)
	}
	if err := admit(u, ident); err != nil {
		return err
	}
	user, err := s.users.Store().ByID(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("%w: user %s is gone", ErrRefused, userID)
	} else if err != nil {
		return err
	}
	if user.Disabled {
		return fmt.Errorf("%w: user %s", ErrDisabled, user.ID)
	}
	roles, mapRoles := u.Claims.Roles(ident.Claims)
	return s.applyClaims(ctx, user, ident, roles, mapRoles)
}

// keyedLock serialises the checks of one link inside this process, so
// two refreshes racing with one upstream refresh token do not both spend
// it (an upstream that rotates strictly would take the second for a
// replay). Across replicas swapGrant and the race test in Check decide.
type keyedLock struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	sync.Mutex
	n int
}

// lock takes key's lock and returns its unlock.
func (k *keyedLock) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.n++
	k.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		k.mu.Lock()
		if e.n--; e.n == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
