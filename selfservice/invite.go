package selfservice

import (
	"context"
	"fmt"

	"idp/mail"
	"idp/users"
)

// InvitePath is the page an invitation link opens.
const InvitePath = "/login/invite"

// RequestInvitation queues the invitation of the user with id (made
// without a password) to email, inside the transaction in ctx. The link
// is minted when the outbox sends it.
func (s *Service) RequestInvitation(ctx context.Context, userID, email string) error {
	if err := s.d.Mail.Enqueue(ctx, mail.KindInvite, email, map[string]string{"user": userID}); err != nil {
		return fmt.Errorf("request invitation: %w", err)
	}
	return nil
}

// composeInvite renders a queued invitation: dropped if the user is gone,
// disabled, no longer at that address, or has accepted an invitation
// already (the address is verified then): a late or retried invitation
// must not become a second way to set the password.
func (s *Service) composeInvite(ctx context.Context, j mail.Job) (*mail.Message, error) {
	u, to, err := s.unverified(ctx, j)
	if u == nil || err != nil {
		return nil, err
	}
	link, err := s.issue(ctx, u, PurposeInvite, InvitePath, s.cfg.InviteTTL)
	if err != nil {
		return nil, err
	}
	return s.d.Templates.Render(mail.KindInvite, to, mail.InviteData{
		Name: to.Name, Email: u.Email, Link: link, Days: int(s.cfg.InviteTTL.Hours() / 24), Issuer: s.cfg.Issuer,
	})
}

// CheckInvitation returns the user an invitation link is for, without
// using it, or ErrInvalidLink.
func (s *Service) CheckInvitation(ctx context.Context, token string) (*users.User, error) {
	return s.check(ctx, token, PurposeInvite, false)
}

// CompleteInvitation uses an invitation link: in one transaction it sets
// the password through the users service (its policy; a refused password
// changes nothing, the link included) and records the address as
// verified, since the link reached it. Nobody is signed in, and as a
// reset does it ends any session and grant the account has (one could
// exist if the password was set another way before).
func (s *Service) CompleteInvitation(ctx context.Context, token, password string) (*users.User, error) {
	peek, err := s.check(ctx, token, PurposeInvite, false)
	if err != nil {
		return nil, err
	}
	hash, err := s.d.Users.PreparePassword(ctx, peek.Email, password) // outside the transaction: it is slow
	if err != nil {
		return nil, err
	}
	var user *users.User
	err = s.d.DB.Tx(ctx, func(ctx context.Context) error {
		u, err := s.check(ctx, token, PurposeInvite, true)
		if err != nil {
			return err
		}
		if u.ID != peek.ID {
			return ErrInvalidLink
		}
		if err := s.d.Users.Store().SetPasswordHash(ctx, u.ID, hash); err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if err := s.d.Users.Store().SetEmailVerified(ctx, u.ID, u.Email); err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if err := s.store.deleteUser(ctx, u.ID, PurposeInvite); err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if err := s.d.Sessions.EndAll(ctx, u.ID); err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if err := s.d.Tokens.RevokeUserGrants(ctx, u.ID); err != nil {
			return fmt.Errorf("accept invitation: revoke grants: %w", err)
		}
		u.EmailVerified = true
		user = u
		return nil
	})
	return user, err
}
