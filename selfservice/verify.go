package selfservice

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"idp/db"
	"idp/mail"
	"idp/users"
)

// VerifyPath is the page a verification link opens.
const VerifyPath = "/login/verify"

// RequestVerification queues a mail asking the user with id to confirm
// their address email. It joins the transaction in ctx, so an account
// created in it and its verification mail come together or not at all.
// The link is minted when the outbox sends; any process with a sender
// does (an admin command has none: `idp serve` sends it).
func (s *Service) RequestVerification(ctx context.Context, userID, email string) error {
	if err := s.d.Mail.Enqueue(ctx, mail.KindEmailVerify, email, map[string]string{"user": userID}); err != nil {
		return fmt.Errorf("request verification: %w", err)
	}
	return nil
}

// composeVerify renders a queued verification when the outbox sends it:
// dropped if the user is gone, disabled, already verified or no longer at
// that address.
func (s *Service) composeVerify(ctx context.Context, j mail.Job) (*mail.Message, error) {
	u, to, err := s.unverified(ctx, j)
	if u == nil || err != nil {
		return nil, err
	}
	link, err := s.issue(ctx, u, PurposeVerify, VerifyPath, s.cfg.VerifyTTL)
	if err != nil {
		return nil, err
	}
	return s.d.Templates.Render(mail.KindEmailVerify, to, mail.VerifyData{
		Name: to.Name, Email: u.Email, Link: link, Hours: int(s.cfg.VerifyTTL.Hours()), Issuer: s.cfg.Issuer,
	})
}

// unverified loads the user a queued invitation or verification is for,
// and where to send it. The user is nil (the mail is dropped) when they
// are gone, disabled, already verified (an accepted invitation verifies
// the address too) or no longer at the address it was queued for.
func (s *Service) unverified(ctx context.Context, j mail.Job) (*users.User, mail.Address, error) {
	u, err := s.d.Users.Store().ByID(ctx, j.Data["user"])
	if errors.Is(err, db.ErrNotFound) {
		return nil, mail.Address{}, nil
	}
	if err != nil {
		return nil, mail.Address{}, fmt.Errorf("%s mail: %w", j.Kind, err)
	}
	if u.Disabled || u.EmailVerified || !strings.EqualFold(u.Email, j.To) {
		return nil, mail.Address{}, nil
	}
	to, ok := recipient(u.Name, u.Email)
	if !ok {
		return nil, mail.Address{}, nil
	}
	return u, to, nil
}

// CheckVerification returns the user a verification link is for, without
// using it, or ErrInvalidLink.
func (s *Service) CheckVerification(ctx context.Context, token string) (*users.User, error) {
	return s.check(ctx, token, PurposeVerify, false)
}

// CompleteVerification uses a verification link: the address it was sent
// to is marked verified, if it is still the user's. email_verified in ID
// tokens and UserInfo follows the stored flag.
func (s *Service) CompleteVerification(ctx context.Context, token string) (*users.User, error) {
	var user *users.User
	err := s.d.DB.Tx(ctx, func(ctx context.Context) error {
		u, err := s.check(ctx, token, PurposeVerify, true)
		if err != nil {
			return err
		}
		if err := s.d.Users.Store().SetEmailVerified(ctx, u.ID, u.Email); errors.Is(err, db.ErrNotFound) {
			return ErrInvalidLink
		} else if err != nil {
			return fmt.Errorf("verify address: %w", err)
		}
		u.EmailVerified = true
		user = u
		return nil
	})
	return user, err
}
