package users

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"idp/db"
)

// CreateInvited stores a new user who has no password yet (an
// invitation): the hash is of 256 random bits nobody ever sees, so no
// sign-in succeeds until the invitee sets a password through their link.
// Email, name and roles are checked and normalised as Create does.
func (s *Service) CreateInvited(ctx context.Context, email, name string, roles []string) (*User, error) {
	email = strings.TrimSpace(email)
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, rand.Text()+rand.Text())
	if err != nil {
		return nil, fmt.Errorf("invite user: %w", err)
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("invite user: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	u := &User{
		ID: id, Email: email, Name: strings.TrimSpace(name), Roles: normalizeRoles(roles),
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.Create(ctx, u); err != nil {
		if errors.Is(err, db.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrEmailTaken, db.ErrConflict)
		}
		return nil, fmt.Errorf("invite user: %w", err)
	}
	return u, nil
}
