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

// ChangePath is the page an email change link opens.
const ChangePath = "/account/email/confirm"

// ErrSameEmail: the new address is the account's own.
var ErrSameEmail = errors.New("that is already your address")

// RequestEmailChange queues a mail to the new address email asking to
// confirm that it should become user u's. It answers the same whether or
// not another account has the address (the composer drops the mail
// then), so the form reveals no accounts. The address does not change
// until the link is used.
func (s *Service) RequestEmailChange(ctx context.Context, u *users.User, email string) error {
	email = strings.TrimSpace(email)
	if err := users.ValidateEmail(email); err != nil {
		return err
	}
	if strings.EqualFold(email, u.Email) {
		return ErrSameEmail
	}
	err := s.d.Mail.Enqueue(ctx, mail.KindEmailChange, email, map[string]string{"user": u.ID, "from": u.Email})
	if err != nil {
		return fmt.Errorf("request email change: %w", err)
	}
	return nil
}

// composeEmailChange renders a queued change when the outbox sends it:
// dropped if the user is gone, disabled, no longer at the address the
// request came from, or the new address belongs to another account.
func (s *Service) composeEmailChange(ctx context.Context, j mail.Job) (*mail.Message, error) {
	u, err := s.d.Users.Store().ByID(ctx, j.Data["user"])
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("email change mail: %w", err)
	}
	if u.Disabled || u.Email != j.Data["from"] {
		return nil, nil
	}
	if _, err := s.d.Users.Store().ByEmail(ctx, j.To); err == nil {
		return nil, nil // taken: the requester learns nothing, the owner gets nothing
	} else if !errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("email change mail: %w", err)
	}
	to, ok := recipient(u.Name, j.To)
	if !ok {
		return nil, nil
	}
	link, err := s.issueFor(ctx, u, PurposeChange, ChangePath, s.cfg.VerifyTTL, j.To)
	if err != nil {
		return nil, err
	}
	return s.d.Templates.Render(mail.KindEmailChange, to, mail.EmailChangeData{
		Name: to.Name, Email: j.To, Link: link, Hours: int(s.cfg.VerifyTTL.Hours()), Issuer: s.cfg.Issuer,
	})
}

// composeEmailChanged renders the notice to the old address.
func (s *Service) composeEmailChanged(_ context.Context, j mail.Job) (*mail.Message, error) {
	to, ok := recipient(j.Data["name"], j.To)
	if !ok {
		return nil, nil
	}
	return s.d.Templates.Render(mail.KindEmailChanged, to, mail.EmailChangedData{
		Name: to.Name, Old: j.To, Email: j.Data["email"], Link: s.cfg.Issuer + "/login/forgot", Issuer: s.cfg.Issuer,
	})
}

// CheckEmailChange returns the user an email change link is for and the
// new address, without using it, or ErrInvalidLink.
func (s *Service) CheckEmailChange(ctx context.Context, token string) (*users.User, string, error) {
	u, r, err := s.checkLink(ctx, token, PurposeChange, false)
	if err != nil {
		return nil, "", err
	}
	return u, r.Email, nil
}

// CompleteEmailChange uses an email change link: the account moves to the
// new address, verified, and the old address is told, in one
// transaction. A link whose address another account took meanwhile is
// ErrInvalidLink and changes nothing.
func (s *Service) CompleteEmailChange(ctx context.Context, token string) (user *users.User, old string, err error) {
	err = s.d.DB.Tx(ctx, func(ctx context.Context) error {
		u, r, err := s.checkLink(ctx, token, PurposeChange, true)
		if err != nil {
			return err
		}
		switch err := s.d.Users.Store().ChangeEmail(ctx, u.ID, u.Email, r.Email); {
		case errors.Is(err, db.ErrConflict), errors.Is(err, db.ErrNotFound):
			return ErrInvalidLink
		case err != nil:
			return fmt.Errorf("change email: %w", err)
		}
		if err := s.d.Mail.Enqueue(ctx, mail.KindEmailChanged, u.Email,
			map[string]string{"email": r.Email, "name": u.Name}); err != nil {
			return fmt.Errorf("tell the old address: %w", err)
		}
		old = u.Email
		u.Email, u.EmailVerified = r.Email, true
		user = u
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return user, old, nil
}
