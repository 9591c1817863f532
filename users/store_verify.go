package users

import (
	"context"

	"idp/db"
)

// SetEmailVerified marks the address of user id verified, only while it is
// still email (ignoring case): a verification link for an address the
// user has since left verifies nothing. db.ErrNotFound if no such user
// has that address.
func (s *Store) SetEmailVerified(ctx context.Context, id, email string) error {
	return s.update(ctx, "set email verified", db.ErrNotFound,
		map[string]any{"email_verified": true}, "id = ? AND lower(email) = lower(?)", id, email)
}
