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

// ChangeEmail moves the account id from the address old to email, which
// counts as verified (the change is confirmed by a link sent to it). It
// changes nothing, wrapping db.ErrNotFound, unless the account is still at
// old; an address another account has (in any case) wraps db.ErrConflict.
func (s *Store) ChangeEmail(ctx context.Context, id, old, email string) error {
	return s.update(ctx, "change email", db.ErrNotFound,
		map[string]any{"email": email, "email_verified": true}, "id = ? AND email = ?", id, old)
}
