package selfservice

import (
	"context"
	"fmt"
	"strings"

	"errors"

	"idp/db"
	"idp/mail"
	"idp/users"
)

// ResetPath is the page a reset link opens.
const ResetPath = "/login/reset"

// RequestReset queues a reset mail to email. It does the same work for
// every address: one outbox insert, whether or not an account has it (the
// outbox's composer finds out later, off the request path), so neither
// the answer nor its timing reveals which accounts exist. An address no
// account could have (malformed) queues nothing and is not an error.
func (s *Service) RequestReset(ctx context.Context, email string) error {
	email = strings.TrimSpace(email)
	if _, err := mail.NewAddress("", email); err != nil {
		return nil
	}
	if err := s.d.Mail.Enqueue(ctx, mail.KindPasswordReset, email, nil); err != nil {
		return fmt.Errorf("request reset: %w", err)
	}
	return nil
}

// composeReset renders a queued reset when the outbox sends it: it looks
// the address up, mints the link (superseding older ones) and fills the
// template; an address without an enabled account, or a request older
// than RequestTTL, is dropped.
func (s *Service) composeReset(ctx context.Context, j mail.Job) (*mail.Message, error) {
	if s.now().Sub(j.QueuedAt) > s.cfg.RequestTTL {
		return nil, nil
	}
	u, err := s.d.Users.Store().ByEmail(ctx, j.To)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reset mail: %w", err)
	}
	if u.Disabled {
		return nil, nil
	}
	to, ok := recipient(u.Name, u.Email)
	if !ok {
		return nil, nil
	}
	link, err := s.issue(ctx, u, PurposeReset, ResetPath, s.cfg.ResetTTL)
	if err != nil {
		return nil, err
	}
	return s.d.Templates.Render(mail.KindPasswordReset, to, mail.ResetData{
		Name: to.Name, Email: u.Email, Link: link, Minutes: int(s.cfg.ResetTTL.Minutes()), Issuer: s.cfg.Issuer,
	})
}

// CheckReset returns the user a reset link is for, without using it, or
// ErrInvalidLink.
func (s *Service) CheckReset(ctx context.Context, token string) (*users.User, error) {
	return s.check(ctx, token, PurposeReset, false)
}

// CompleteReset uses a reset link: in one transaction it consumes the
// link, sets the password through the users service (so its policy
// applies: a refused password is its error and changes nothing, the link
// included), deletes the user's other reset links, ends every session and
// revokes every refresh family. It signs nobody in: a user with a second
// factor still owes it at the next sign-in.
func (s *Service) CompleteReset(ctx context.Context, token, password string) (*users.User, error) {
	// The policy and the slow hash come first, outside the transaction
	// (on SQLite it holds the one write lock); the transaction then uses
	// the link, which still has to be live and made under the same
	// password, and stores the hash.
	peek, err := s.check(ctx, token, PurposeReset, false)
	if err != nil {
		return nil, err
	}
	hash, err := s.d.Users.PreparePassword(ctx, peek.Email, password)
	if err != nil {
		return nil, err
	}
	var user *users.User
	err = s.d.DB.Tx(ctx, func(ctx context.Context) error {
		u, err := s.check(ctx, token, PurposeReset, true)
		if err != nil {
			return err
		}
		if u.ID != peek.ID {
			return ErrInvalidLink
		}
		if err := s.d.Users.Store().SetPasswordHash(ctx, u.ID, hash); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if err := s.store.deleteUser(ctx, u.ID, PurposeReset); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if err := s.d.Sessions.EndAll(ctx, u.ID); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if err := s.d.Tokens.RevokeUserGrants(ctx, u.ID); err != nil {
			return fmt.Errorf("reset: revoke grants: %w", err)
		}
		user = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return user, nil
}
