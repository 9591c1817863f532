package admin

import (
	"context"
	"errors"
	"fmt"

	"idp/users"
)

// ErrNoMail: an invitation needs the mail flows, which this wiring lacks.
var ErrNoMail = errors.New("invitations need mail: no mail flows are wired")

// InviteUser creates an account without a password and queues a mail with
// a link (7 days, single use) to set one; both happen or neither. The
// invitee's address counts as verified once the link is used. The mail is
// sent by a serving process with --smtp-url.
func (s *Service) InviteUser(ctx context.Context, actor Actor, n NewUser) (User, error) {
	if s.verifier == nil {
		return User{}, ErrNoMail
	}
	ctx = as(ctx, actor)
	var u *users.User
	err := s.db.Tx(ctx, func(ctx context.Context) error {
		var err error
		if u, err = s.users.CreateInvited(ctx, n.Email, n.Name, n.Roles); err != nil {
			return err
		}
		return s.verifier.RequestInvitation(ctx, u.ID, u.Email)
	})
	switch {
	case errors.Is(err, users.ErrEmailTaken):
		return User{}, tagged{ErrConflict, err}
	case errors.Is(err, users.ErrInvalidEmail):
		return User{}, &InvalidError{Reason: err.Error()}
	case err != nil:
		return User{}, fmt.Errorf("invite user: %w", err)
	}
	s.record(ctx, "user.invited", u.ID, "email="+u.Email)
	return userView(u), nil
}

// SendPasswordReset mails the user a password-reset link (30 min, single
// use), the one "Forgot your password?" sends; their password keeps
// working until the link is used. A serving process with --smtp-url sends
// it; without mail flows it is ErrNoMail.
func (s *Service) SendPasswordReset(ctx context.Context, actor Actor, ref UserRef) (User, error) {
	if s.verifier == nil {
		return User{}, ErrNoMail
	}
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, &InvalidError{Reason: "the user is disabled: enable them first"}
	}
	if err := s.verifier.RequestReset(ctx, u.Email); err != nil {
		return User{}, fmt.Errorf("send password reset: %w", err)
	}
	s.record(ctx, "password.reset_sent", u.ID, "")
	return userView(u), nil
}
