package selfservice

import (
	"context"
	"errors"
	"fmt"

	"idp/db"
	"idp/mail"
	"idp/users"
)

// SignUp creates an account for email with the password hash (checked
// and made by users.PreparePassword, so the caller spends its time for
// every address) and queues the mail that confirms the address, in one
// transaction. When the address already has an account nothing is
// created and its owner is told instead; the caller answers both alike,
// so the form reveals no accounts. created says which happened, for the
// audit log only.
func (s *Service) SignUp(ctx context.Context, email, name, hash string) (created bool, err error) {
	taken := false
	err = s.d.DB.Tx(ctx, func(ctx context.Context) error {
		// Looked up first: on PostgreSQL a failed insert would abort the
		// transaction the notice has to go into.
		switch _, err := s.d.Users.Store().ByEmail(ctx, email); {
		case err == nil:
			taken = true
			return s.d.Mail.Enqueue(ctx, mail.KindSignupExists, email, nil)
		case !errors.Is(err, db.ErrNotFound):
			return err
		}
		u, err := s.d.Users.CreateHashed(ctx, email, hash, name, nil)
		if err != nil {
			return err // a racing sign-up with the address: ErrEmailTaken, handled below
		}
		created = true
		return s.RequestVerification(ctx, u.ID, u.Email)
	})
	if errors.Is(err, users.ErrEmailTaken) && !taken {
		created, err = false, s.d.Mail.Enqueue(ctx, mail.KindSignupExists, email, nil)
	}
	if err != nil {
		return false, fmt.Errorf("sign up: %w", err)
	}
	return created, nil
}

// composeSignupExists renders the notice to an address that has an
// account: dropped if it no longer has one.
func (s *Service) composeSignupExists(ctx context.Context, j mail.Job) (*mail.Message, error) {
	u, err := s.d.Users.Store().ByEmail(ctx, j.To)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sign-up notice: %w", err)
	}
	to, ok := recipient(u.Name, u.Email)
	if !ok {
		return nil, nil
	}
	return s.d.Templates.Render(mail.KindSignupExists, to, mail.SignupExistsData{
		Name: to.Name, Email: u.Email, Link: s.cfg.Issuer + "/login/forgot", Issuer: s.cfg.Issuer,
	})
}
