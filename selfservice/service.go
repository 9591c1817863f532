package selfservice

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"idp/db"
	"idp/mail"
	"idp/sessions"
	"idp/tokens"
	"idp/users"
)

// Deps are the services the flows drive.
type Deps struct {
	DB       *db.DB
	Users    *users.Service
	Sessions *sessions.Service
	Tokens   *tokens.Service
	Mail     *mail.Service
	// Templates render the messages (mail.DefaultTemplates).
	Templates *mail.Templates
}

// Config tunes the flows.
type Config struct {
	// Issuer is the base of every link (the provider's public URL).
	Issuer string
	// ResetTTL is how long a reset link works (default 30 minutes).
	ResetTTL time.Duration
	// VerifyTTL is how long an address verification link works (default
	// 24 hours).
	VerifyTTL time.Duration
	// InviteTTL is how long an invitation link works (default 7 days).
	InviteTTL time.Duration
	// RequestTTL drops a queued reset the outbox could not send for this
	// long (default 24 hours): nobody is waiting for it any more.
	RequestTTL time.Duration
	Now        func() time.Time
}

// Service runs the self-service flows. It is safe for concurrent use.
type Service struct {
	d     Deps
	cfg   Config
	store *Store
}

// NewService returns the flows over store and registers their composers
// with d.Mail.
func NewService(store *Store, d Deps, cfg Config) *Service {
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = 30 * time.Minute
	}
	if cfg.VerifyTTL <= 0 {
		cfg.VerifyTTL = 24 * time.Hour
	}
	if cfg.InviteTTL <= 0 {
		cfg.InviteTTL = 7 * 24 * time.Hour
	}
	if cfg.RequestTTL <= 0 {
		cfg.RequestTTL = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	s := &Service{d: d, cfg: cfg, store: store}
	d.Mail.Handle(mail.KindPasswordReset, s.composeReset)
	d.Mail.Handle(mail.KindEmailVerify, s.composeVerify)
	d.Mail.Handle(mail.KindInvite, s.composeInvite)
	d.Mail.Handle(mail.KindEmailChange, s.composeEmailChange)
	d.Mail.Handle(mail.KindEmailChanged, s.composeEmailChanged)
	d.Mail.Handle(mail.KindSignupExists, s.composeSignupExists)
	return s
}

// ResetEnabled reports whether password reset is offered: only when mail
// can be sent.
func (s *Service) ResetEnabled() bool { return s != nil && s.d.Mail.Enabled() }

// ResetTTL is how long a reset link works.
func (s *Service) ResetTTL() time.Duration { return s.cfg.ResetTTL }

// now is the clock at the microsecond PostgreSQL keeps.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Purge deletes up to limit expired links.
func (s *Service) Purge(ctx context.Context, limit int) (int64, error) {
	n, err := s.store.deleteExpired(ctx, s.now(), limit)
	if err != nil {
		return n, fmt.Errorf("purge links: %w", err)
	}
	return n, nil
}

// recipient addresses email with name, or without the name when mail
// cannot carry it (a stored name with characters a header refuses); ok is
// false when the address itself cannot be mailed, and the message is
// dropped.
func recipient(name, email string) (mail.Address, bool) {
	to, err := mail.NewAddress(name, email)
	if err != nil {
		if to, err = mail.NewAddress("", email); err != nil {
			return mail.Address{}, false
		}
	}
	return to, true
}

// issue mints a link of purpose for u, superseding the older ones, and
// returns its URL at path.
func (s *Service) issue(ctx context.Context, u *users.User, purpose, path string, ttl time.Duration) (string, error) {
	return s.issueFor(ctx, u, purpose, path, ttl, "")
}

// issueFor is issue with the new address an email change link confirms.
func (s *Service) issueFor(ctx context.Context, u *users.User, purpose, path string, ttl time.Duration, email string) (string, error) {
	token, hash, err := newToken()
	if err != nil {
		return "", err
	}
	now := s.now()
	r := &linkRow{TokenHash: hash, Purpose: purpose, UserID: u.ID, PasswordStamp: stamp(purpose, u), Email: email,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.store.replace(ctx, r); err != nil {
		return "", fmt.Errorf("issue link: %w", err)
	}
	return s.cfg.Issuer + path + "?token=" + url.QueryEscape(token), nil
}

// check returns the user of a live link of purpose, or ErrInvalidLink.
// With consume, the link is used up (call it inside a transaction that
// rolls back if what follows fails).
func (s *Service) check(ctx context.Context, token, purpose string, consume bool) (*users.User, error) {
	u, _, err := s.checkLink(ctx, token, purpose, consume)
	return u, err
}

// checkLink is check that also returns the link.
func (s *Service) checkLink(ctx context.Context, token, purpose string, consume bool) (*users.User, *linkRow, error) {
	if !wellFormed(token) {
		return nil, nil, ErrInvalidLink
	}
	hash, now := hashToken(token), s.now()
	r, err := s.store.live(ctx, hash, purpose, now)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil, ErrInvalidLink
	}
	if err != nil {
		return nil, nil, fmt.Errorf("check link: %w", err)
	}
	u, err := s.d.Users.Store().ByID(ctx, r.UserID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil, ErrInvalidLink
	}
	if err != nil {
		return nil, nil, fmt.Errorf("check link: %w", err)
	}
	if u.Disabled || stamp(purpose, u) != r.PasswordStamp {
		return nil, nil, ErrInvalidLink
	}
	if consume {
		ok, err := s.store.consume(ctx, hash, purpose, now)
		if err != nil {
			return nil, nil, fmt.Errorf("use link: %w", err)
		}
		if !ok {
			return nil, nil, ErrInvalidLink // a concurrent use won
		}
	}
	return u, r, nil
}
