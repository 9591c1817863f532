package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"idp/db"
	"idp/oauth"
)

// A Step is a sign-in half done: the user passed a first factor (amr)
// and owes a second before any session exists. The browser holds a random
// secret (a cookie of its own); only its hash is stored.
type Step struct {
	UserID    string
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// StepTTL is how long a half-done sign-in waits for its second factor.
const StepTTL = 5 * time.Minute

// ErrNoStep means the cookie names no half-done sign-in, or it expired.
var ErrNoStep = errors.New("no sign-in in progress")

// BeginStep records that userID passed the factors amr and returns the
// secret to put in the step cookie.
func (s *Service) BeginStep(ctx context.Context, userID string, amr []string) (string, error) {
	token := oauth.NewSecret(32)
	now := s.now().UTC()
	st := &Step{UserID: userID, AMR: amr, CreatedAt: now, ExpiresAt: now.Add(StepTTL)}
	if err := s.store.createStep(ctx, oauth.HashSecret(token), st); err != nil {
		return "", fmt.Errorf("begin sign-in step: %w", err)
	}
	return token, nil
}

// Step returns the half-done sign-in of a step cookie, or ErrNoStep.
func (s *Service) Step(ctx context.Context, token string) (*Step, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrNoStep
	}
	st, err := s.store.step(ctx, oauth.HashSecret(token))
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrNoStep
	}
	if err != nil {
		return nil, fmt.Errorf("look up sign-in step: %w", err)
	}
	if !s.now().Before(st.ExpiresAt) {
		return nil, ErrNoStep
	}
	return st, nil
}

// CompleteStep ends a half-done sign-in whose second factor was just
// verified and starts the session it was for, with the methods amr, in
// one transaction: of two requests racing with one step cookie, one
// starts a session and the other gets ErrNoStep.
func (s *Service) CompleteStep(ctx context.Context, token string, amr []string, ip, userAgent string) (string, *Session, error) {
	st, err := s.Step(ctx, token)
	if err != nil {
		return "", nil, err
	}
	var (
		secret string
		sess   *Session
	)
	err = db.Tx(ctx, s.store.g, func(ctx context.Context) error {
		n, err := s.store.deleteStep(ctx, oauth.HashSecret(token))
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNoStep
		}
		secret, sess, err = s.Start(ctx, st.UserID, amr, ip, userAgent)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return secret, sess, nil
}

// AbandonStep forgets a half-done sign-in (the user went back, or chose
// another way to sign in).
func (s *Service) AbandonStep(ctx context.Context, token string) error {
	if token == "" || len(token) > 128 {
		return nil
	}
	_, err := s.store.deleteStep(ctx, oauth.HashSecret(token))
	return err
}
