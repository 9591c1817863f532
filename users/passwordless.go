package users

import (
	"context"
	"strings"
)

// CreatePasswordless stores a new user who has no password at all: one
// made at a first sign-in through an upstream provider (issue #18), who
// signs in that way, or with a passkey or a password set later. Its
// PasswordHash is empty, which Authenticate refuses like a wrong
// password and at the same cost, and which HasPassword reports, so the
// account page can tell a user's last way to sign in. (An invitation, by
// contrast, gets a random hash: CreateInvited.)
func (s *Service) CreatePasswordless(ctx context.Context, email, name string, roles []string) (*User, error) {
	email = strings.TrimSpace(email)
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	return s.create(ctx, email, "", name, roles)
}

// HasPassword reports whether u has a password to sign in with. It is
// false only for CreatePasswordless users who never set one; an invited
// user's random hash counts as a password (a reset link can set it).
func (u *User) HasPassword() bool { return u.PasswordHash != "" }
