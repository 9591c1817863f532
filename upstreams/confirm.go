package upstreams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"idp/db"
	"idp/oauth"
)

// Confirm-to-link. A first sign-in through an upstream whose email belongs
// to an idp account that may not be linked automatically (no
// --link-by-email, or no email_verified from the upstream) must not sign
// in as that account: whoever controls the upstream account has shown
// nothing about the idp one. It is remembered instead, for PendingLinkTTL
// and once, under a random token the browser keeps; the link is made only
// when that browser then signs in to that very account by its own means
// (password and second factor, or passkey) and explicitly confirms. The
// confirmation page shows the upstream's email, so a token planted in a
// victim's browser cannot link the attacker's upstream account unseen.

// PendingLinkTTL is how long a person has to sign in and confirm a link.
const PendingLinkTTL = 10 * time.Minute

var (
	// ErrNoPendingLink: the pending link's token is unknown, used or
	// expired (or forged); nothing is linked.
	ErrNoPendingLink = errors.New("no such pending link")
	// ErrOtherAccount: the account signed in is not the one the pending
	// link was for; nothing is linked and the pending link is spent.
	ErrOtherAccount = errors.New("signed in to another account than the pending link's")
	// ErrStaleSignIn: the session confirming was signed in before the
	// pending link existed, so it shows nothing about who holds the
	// upstream account; nothing is linked and the pending link is spent.
	ErrStaleSignIn = errors.New("no sign-in since the pending link was made")
	// ErrAlreadyLinked: the upstream account was linked to an idp user
	// meanwhile (one upstream account links to exactly one user).
	ErrAlreadyLinked = errors.New("the upstream account is already linked")
	// ErrLastWay: removing the link would leave the user no way to sign
	// in (no password, no passkey, no other link).
	ErrLastWay = errors.New("the last way to sign in cannot be removed")
)

// LinkPending is the outcome of a first sign-in that may become a link
// once the account's owner confirms it. It is an error (matching
// ErrLinkRefused) because the sign-in itself did not happen; Error never
// contains the token, so it may be logged.
type LinkPending struct {
	// Token goes into the browser (a cookie) and comes back to Pending,
	// ConfirmLink and DropPendingLink. It is stored only as its hash.
	Token string
	// Email is the upstream account's address, which an idp account has.
	Email     string
	ExpiresAt time.Time
	why       string
}

func (p *LinkPending) Error() string {
	return ErrLinkRefused.Error() + ": " + p.why + "; waiting for the account's owner to sign in and confirm"
}

// Unwrap makes a pending link an ErrLinkRefused.
func (p *LinkPending) Unwrap() error { return ErrLinkRefused }

// PendingLink is what the pages show of a pending link.
type PendingLink struct {
	Upstream *Upstream
	// Subject and Email are the upstream account's; UserID is the idp
	// account it would be linked to.
	Subject, Email, UserID string
	// RequestID and Next are where the upstream sign-in was going.
	RequestID, Next string
	CreatedAt       time.Time
}

// pend remembers the would-be link of ident to user userID and returns it
// as a *LinkPending error.
func (s *Service) pend(ctx context.Context, res *Result, ident *Identity, userID, why string) error {
	now := s.cfg.Now().UTC()
	token := oauth.NewSecret(32)
	p := &pendingLink{UpstreamID: res.Upstream.ID, Subject: ident.Subject, Email: ident.Email, UserID: userID,
		RequestID: res.RequestID, Next: res.Next, CreatedAt: now, ExpiresAt: now.Add(PendingLinkTTL)}
	if err := s.store.savePendingLink(ctx, oauth.HashSecret(token), p); err != nil {
		return err
	}
	return &LinkPending{Token: token, Email: ident.Email, ExpiresAt: p.ExpiresAt, why: why}
}

// Pending returns the unexpired pending link of token without spending
// it, or an error matching ErrNoPendingLink.
func (s *Service) Pending(ctx context.Context, token string) (*PendingLink, error) {
	if token == "" {
		return nil, ErrNoPendingLink
	}
	p, err := s.store.pendingLinkByHash(ctx, oauth.HashSecret(token), s.cfg.Now())
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrNoPendingLink
	}
	if err != nil {
		return nil, err
	}
	return s.view(ctx, p)
}

func (s *Service) view(ctx context.Context, p *pendingLink) (*PendingLink, error) {
	u, err := s.store.ByID(ctx, p.UpstreamID)
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: its upstream %q was deleted", ErrNoPendingLink, p.UpstreamID)
	}
	if err != nil {
		return nil, err
	}
	return &PendingLink{Upstream: u, Subject: p.Subject, Email: p.Email, UserID: p.UserID,
		RequestID: p.RequestID, Next: p.Next, CreatedAt: p.CreatedAt}, nil
}

// ConfirmLink spends the pending link of token and links its upstream
// account to userID, who signed in at signedInAt. It refuses, linking
// nothing, when the token is unknown, used or expired (ErrNoPendingLink),
// when userID is not the account the link was for (ErrOtherAccount) or
// signed in before
// the pending link existed (ErrStaleSignIn: only a sign-in made after the
// upstream one shows that the same person controls both), and when
// the upstream account was linked meanwhile (ErrAlreadyLinked).
func (s *Service) ConfirmLink(ctx context.Context, token, userID string, signedInAt time.Time) (*Link, *Upstream, error) {
	if token == "" {
		return nil, nil, ErrNoPendingLink
	}
	p, err := s.store.takePendingLink(ctx, oauth.HashSecret(token), s.cfg.Now())
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil, ErrNoPendingLink
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := s.view(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	if p.UserID != userID {
		return nil, v.Upstream, fmt.Errorf("%w: pending for user %s, signed in as %s", ErrOtherAccount, p.UserID, userID)
	}
	if signedInAt.Before(p.CreatedAt) {
		return nil, v.Upstream, fmt.Errorf("%w: the session's sign-in (%s) is older than the pending link (%s)",
			ErrStaleSignIn, signedInAt.UTC().Format(time.RFC3339), p.CreatedAt.Format(time.RFC3339))
	}
	now := s.cfg.Now().UTC()
	l := &Link{UpstreamID: p.UpstreamID, Subject: p.Subject, UserID: userID, Email: p.Email, CreatedAt: now, LastUsedAt: now}
	if err := s.store.createLink(ctx, l); errors.Is(err, db.ErrConflict) {
		return nil, v.Upstream, fmt.Errorf("%w: %w", ErrAlreadyLinked, err)
	} else if err != nil {
		return nil, nil, err
	}
	return l, v.Upstream, nil
}

// DropPendingLink spends the pending link of token, if any, without
// linking ("Not now", or a sign-in to another account).
func (s *Service) DropPendingLink(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	_, err := s.store.takePendingLink(ctx, oauth.HashSecret(token), s.cfg.Now())
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	return err
}

// Unlink removes user userID's link of upstream account (upstreamID, sub).
// otherWays says whether the user can sign in without any link (a
// password, a passkey); without, the last link is refused with ErrLastWay
// so nobody locks themselves out. The next sign-in through that upstream
// account is a first sign-in again. The grant the link kept (refresh.go)
// is given back to the upstream.
func (s *Service) Unlink(ctx context.Context, userID, upstreamID, sub string, otherWays bool) error {
	var kept *grant
	if lg, err := s.store.linkGrant(ctx, upstreamID, sub); err == nil && lg.UserID == userID && len(lg.Sealed) > 0 {
		kept, _ = s.openGrant(upstreamID, sub, lg.Sealed) // one that does not open cannot be given back
	}
	if err := s.store.deleteLink(ctx, userID, upstreamID, sub, !otherWays); err != nil {
		return err
	}
	if kept != nil {
		if u, err := s.store.ByID(ctx, upstreamID); err == nil {
			s.giveBack(u, sub, kept)
		}
	}
	return nil
}
