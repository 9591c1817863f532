package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"idp/db"
	"idp/oauth"
)

// Session is one signed-in browser.
type Session struct {
	// ID is a public handle (for the account page); it grants nothing.
	ID string
	// TokenHash is the SHA-256 of the cookie secret.
	TokenHash string
	UserID    string
	// AuthTime is when the user last authenticated (OIDC auth_time): the
	// sign-in, or a later step-up.
	AuthTime   time.Time
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
	// AMR says how the user authenticated (RFC 8176 values, see package
	// mfa), from the sign-in and any step-up since.
	AMR []string
	// UpstreamID and UpstreamSub name the upstream account of a sign-in
	// through an upstream provider (package upstreams), "" otherwise: the
	// codes and refresh families of this session carry them, so that a
	// refresh can ask that upstream again.
	UpstreamID, UpstreamSub string
}

// ErrNoSession means the cookie names no live session.
var ErrNoSession = errors.New("no live session")

// Service starts, finds and ends sessions.
type Service struct {
	store *Store
	ttl   time.Duration
	now   func() time.Time
	onEnd EndHook
	// afterEnd runs once sessions ended in a transaction of their own.
	afterEnd func()
}

// NewService returns a Service whose sessions last ttl from sign-in.
func NewService(store *Store, ttl time.Duration, now func() time.Time) *Service {
	return &Service{store: store, ttl: ttl, now: now}
}

// Store returns the underlying store.
func (s *Service) Store() *Store { return s.store }

// Start creates a session for a user who has just authenticated by the
// methods amr and returns the secret to put in the cookie. A fresh secret
// on every sign-in defeats session fixation.
func (s *Service) Start(ctx context.Context, userID string, amr []string, ip, userAgent string) (string, *Session, error) {
	return s.StartFederated(ctx, userID, amr, "", "", ip, userAgent)
}

// StartFederated is Start for a sign-in through upstream account
// (upstreamID, upstreamSub).
func (s *Service) StartFederated(ctx context.Context, userID string, amr []string, upstreamID, upstreamSub, ip, userAgent string) (string, *Session, error) {
	token := oauth.NewSecret(32)
	now := s.now().UTC()
	sess := &Session{
		ID:         oauth.NewSecret(16),
		TokenHash:  oauth.HashSecret(token),
		UserID:     userID,
		AuthTime:   now,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(s.ttl),
		IP:         db.Clip(ip, 64),
		UserAgent:  db.Clip(userAgent, 256),
		AMR:        amr,
		UpstreamID: upstreamID, UpstreamSub: upstreamSub,
	}
	if err := s.store.Create(ctx, sess); err != nil {
		return "", nil, fmt.Errorf("start session: %w", err)
	}
	return token, sess, nil
}

// Lookup returns the live session for a cookie secret, or ErrNoSession.
func (s *Service) Lookup(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrNoSession
	}
	sess, err := s.store.ByTokenHash(ctx, oauth.HashSecret(token))
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) {
		return nil, ErrNoSession
	}
	// Record activity at most once a minute: the account page shows it, and
	// a write per request would be wasted.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if err := s.store.Touch(ctx, sess.ID, now.UTC()); err == nil {
			sess.LastSeenAt = now.UTC()
		}
	}
	return sess, nil
}

// Elevate records that the user of sess, presenting the cookie secret
// token, has just authenticated again by the methods amr (a step-up):
// the session gets a new secret, so a secret seen before the elevation
// never carries the stronger session, and auth_time moves to now. It
// returns the new secret, or ErrNoSession if the session ended or its
// secret changed meanwhile.
func (s *Service) Elevate(ctx context.Context, sess *Session, token string, amr []string) (string, error) {
	fresh := oauth.NewSecret(32)
	now := s.now().UTC()
	ok, err := s.store.Elevate(ctx, sess.ID, oauth.HashSecret(token), oauth.HashSecret(fresh), amr, now, now)
	if err != nil {
		return "", fmt.Errorf("elevate session: %w", err)
	}
	if !ok {
		return "", ErrNoSession
	}
	sess.TokenHash, sess.AMR, sess.AuthTime, sess.LastSeenAt = oauth.HashSecret(fresh), amr, now, now
	return fresh, nil
}

// End ends one session of a user; ending a session of someone else is
// ErrNoSession, so the account page cannot be used to probe ids.
func (s *Service) End(ctx context.Context, userID, id string) error {
	n, err := s.end(ctx, 0, "id = ? AND user_id = ?", id, userID)
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if n == 0 {
		return ErrNoSession
	}
	return nil
}

// EndAll ends every session of a user ("sign out everywhere").
func (s *Service) EndAll(ctx context.Context, userID string) error {
	if _, err := s.end(ctx, 0, "user_id = ?", userID); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// EndOthers ends every session of a user but keep (the one changing the
// password) and returns how many ended.
func (s *Service) EndOthers(ctx context.Context, userID, keep string) (int64, error) {
	n, err := s.end(ctx, 0, "user_id = ? AND id <> ?", userID, keep)
	if err != nil {
		return 0, fmt.Errorf("end other sessions: %w", err)
	}
	return n, nil
}

// List returns the live sessions of a user, newest first.
func (s *Service) List(ctx context.Context, userID string) ([]Session, error) {
	return s.store.ListUser(ctx, userID, s.now().UTC())
}
