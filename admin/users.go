package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"idp/users"
)

// NewUser is what CreateUser needs.
type NewUser struct {
	Email, Password, Name string
	Roles                 []string
	// EmailVerified records the address as verified (the operator vouches
	// for it); otherwise the user is mailed a link to verify it.
	EmailVerified bool
}

// Users lists every user.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	list, err := s.users.Store().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, 0, len(list))
	for i := range list {
		out = append(out, userView(&list[i]))
	}
	return out, s.withFactors(ctx, out)
}

// CreateUser adds a user. A taken email is ErrConflict; a malformed email
// or a weak password is *InvalidError.
func (s *Service) CreateUser(ctx context.Context, actor Actor, n NewUser) (User, error) {
	ctx = as(ctx, actor)
	var u *users.User
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		var err error
		if u, err = s.users.Create(ctx, n.Email, n.Password, n.Name, n.Roles); err != nil {
			return err
		}
		switch {
		case n.EmailVerified:
			if err := s.users.Store().SetEmailVerified(ctx, u.ID, u.Email); err != nil {
				return fmt.Errorf("mark email verified: %w", err)
			}
			u.EmailVerified = true
		case s.verifier != nil:
			return s.verifier.RequestVerification(ctx, u.ID, u.Email)
		}
		return nil
	})
	switch {
	case errors.Is(err, users.ErrEmailTaken):
		return User{}, tagged{ErrConflict, err}
	case errors.Is(err, users.ErrInvalidEmail) || errors.Is(err, users.ErrWeakPassword):
		return User{}, &InvalidError{Reason: err.Error()}
	case err != nil:
		return User{}, fmt.Errorf("create user: %w", err)
	}
	detail := "email=" + u.Email
	if u.EmailVerified {
		detail += " email_verified"
	}
	s.record(ctx, "user.created", u.ID, detail)
	return userView(u), nil
}

// UserRef names a user by id or by email (exactly one is set).
type UserRef struct{ ID, Email string }

// user finds the user ref names.
func (s *Service) user(ctx context.Context, ref UserRef) (*users.User, error) {
	var u *users.User
	var err error
	if ref.ID != "" {
		u, err = s.users.Store().ByID(ctx, ref.ID)
	} else {
		u, err = s.users.Store().ByEmail(ctx, ref.Email)
	}
	if err != nil {
		return nil, fmt.Errorf("user %s%s: %w", ref.ID, ref.Email, mapErr(err))
	}
	return u, nil
}

// ErrSelf refuses an administrator disabling their own account, which
// would lock them out of the console mid-action.
var ErrSelf = &InvalidError{Reason: "you cannot disable your own account"}

// DisableUser stops a user from signing in and ends everything they hold:
// their sessions and their offline grants (whose access tokens die with
// them). An unknown user is ErrNotFound; the actor's own account is
// ErrSelf.
func (s *Service) DisableUser(ctx context.Context, actor Actor, ref UserRef) (User, error) {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return User{}, err
	}
	if strings.EqualFold(actor.Name, u.Email) {
		return User{}, ErrSelf
	}
	if err := s.users.Store().SetDisabled(ctx, u.ID, true); err != nil {
		return User{}, fmt.Errorf("disable user: %w", mapErr(err))
	}
	if err := s.sessions.EndAll(ctx, u.ID); err != nil {
		return User{}, fmt.Errorf("end sessions: %w", err)
	}
	if err := s.tokens.RevokeUserGrants(ctx, u.ID); err != nil {
		return User{}, fmt.Errorf("revoke grants: %w", err)
	}
	s.record(ctx, "user.disabled", u.ID, "email="+u.Email)
	u.Disabled = true
	return userView(u), nil
}

// SetPassword replaces a user's password (an administrator's reset). A
// weak password is *InvalidError; an unknown email ErrNotFound.
func (s *Service) SetPassword(ctx context.Context, actor Actor, email, password string) error {
	return s.SetUserPassword(ctx, actor, UserRef{Email: email}, password)
}

// SetUserPassword is SetPassword for a user named by id or email.
func (s *Service) SetUserPassword(ctx context.Context, actor Actor, ref UserRef, password string) error {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return err
	}
	err = s.users.SetPassword(ctx, u.Email, password)
	switch {
	case errors.Is(err, users.ErrWeakPassword):
		return &InvalidError{Reason: err.Error()}
	case err != nil:
		return mapErr(err)
	}
	s.record(ctx, "user.password_set", u.ID, "email="+u.Email)
	return nil
}
