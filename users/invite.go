package users

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
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
	return s.create(ctx, email, hash, name, roles)
}
