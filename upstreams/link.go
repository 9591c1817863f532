package upstreams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"idp/db"
	"idp/users"
)

// Identity is who the upstream says signed in, from a verified ID token.
type Identity struct {
	// Subject is the upstream's sub: with the upstream id, the key of the
	// link. idp's own sub stays the idp user's id.
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	// Claims are every claim of the ID token, for the claim mapping.
	Claims map[string]any
	// AMR are the RFC 8176 methods an OpenID provider's ID token says the
	// person used there (its amr claim), registered values only; none
	// from a plain OAuth 2.0 provider, whose userinfo is not signed.
	AMR []string
}

// resolve finds the idp user of ident, in this order: an existing link;
// else the user with the same verified email when the upstream links by
// email; else a new user when it creates them (JIT); else a refusal. The
// allowed domains and the required group are checked first, so an
// outsider never gets an account or a link. At every sign-in the claim
// mapping updates the user's name, email_verified and (when mapped) roles.
func (s *Service) resolve(ctx context.Context, res *Result, ident *Identity) error {
	u := res.Upstream
	res.Subject = ident.Subject
	if err := admit(u, ident); err != nil {
		return err
	}
	roles, mapRoles := u.Claims.Roles(ident.Claims)
	now := s.cfg.Now().UTC()
	link, err := s.store.link(ctx, u.ID, ident.Subject)
	switch {
	case err == nil:
		if res.User, err = s.users.Store().ByID(ctx, link.UserID); err != nil {
			return fmt.Errorf("linked user: %w", err)
		}
		if err := s.store.touchLink(ctx, u.ID, ident.Subject, ident.Email, now); err != nil {
			return err
		}
	case !errors.Is(err, db.ErrNotFound):
		return err
	case ident.Email == "":
		return fmt.Errorf("%w: the upstream gave no email", ErrNoAccount)
	default:
		if err := s.firstSignIn(ctx, res, ident, roles); err != nil {
			return err
		}
	}
	if res.User.Disabled {
		return fmt.Errorf("%w: user %s", ErrDisabled, res.User.ID)
	}
	return s.applyClaims(ctx, res.User, ident, roles, mapRoles)
}

// admit applies u's rules for who may sign in: the allowed domains and
// the required group. A refresh check (refresh.go) applies the same.
func admit(u *Upstream, ident *Identity) error {
	if !u.DomainAllowed(ident.Email) {
		return fmt.Errorf("%w: email %q is outside the allowed domains", ErrNotAllowed, ident.Email)
	}
	if !u.Claims.InGroup(ident.Claims) {
		return fmt.Errorf("%w: not in group %q", ErrNotAllowed, u.Claims.RequiredGroup)
	}
	return nil
}

// firstSignIn links ident to the user with its email, or creates one, in a
// single transaction with the link. An existing user that may not be
// linked automatically is not signed in: the would-be link is remembered
// for its owner to confirm (confirm.go) and returned as a *LinkPending.
func (s *Service) firstSignIn(ctx context.Context, res *Result, ident *Identity, roles []string) error {
	u := res.Upstream
	existing, err := s.users.Store().ByEmail(ctx, ident.Email)
	switch {
	case err == nil && !(u.LinkByEmail && ident.EmailVerified):
		// Pending even for a disabled account (which can never sign in
		// to confirm): whoever holds the upstream account learns no more
		// than that an account with the address exists.
		why := "--link-by-email is off"
		if u.LinkByEmail {
			why = "the upstream did not say email_verified"
		}
		return s.pend(ctx, res, ident, existing.ID, fmt.Sprintf("user %s has %q; %s", existing.ID, ident.Email, why))
	case err == nil:
		if existing.Disabled {
			return fmt.Errorf("%w: user %s", ErrDisabled, existing.ID)
		}
		res.User, res.Linked = existing, true
		return s.store.createLink(ctx, s.newLink(u, ident, existing.ID))
	case !errors.Is(err, db.ErrNotFound):
		return err
	case !u.JIT:
		return fmt.Errorf("%w: no user has %q and --jit is off", ErrNoAccount, ident.Email)
	}
	return s.store.tx(ctx, func(ctx context.Context) error {
		// No password: the upstream is this user's way in until they add
		// another (the account page will not unlink the last one).
		nu, err := s.users.CreatePasswordless(ctx, ident.Email, ident.Name, roles)
		if err != nil {
			return fmt.Errorf("create user for upstream account: %w", err)
		}
		if ident.EmailVerified {
			if err := s.users.Store().SetEmailVerified(ctx, nu.ID, nu.Email); err != nil {
				return err
			}
			nu.EmailVerified = true
		}
		res.User, res.Created, res.Linked = nu, true, true
		return s.store.createLink(ctx, s.newLink(u, ident, nu.ID))
	})
}

func (s *Service) newLink(u *Upstream, ident *Identity, userID string) *Link {
	now := s.cfg.Now().UTC()
	return &Link{UpstreamID: u.ID, Subject: ident.Subject, UserID: userID, Email: ident.Email, CreatedAt: now, LastUsedAt: now}
}

// applyClaims copies the mapped claims onto user when they changed: the
// name when the upstream sends one, email_verified when it vouches for the
// user's own address, the roles when a roles claim is mapped.
func (s *Service) applyClaims(ctx context.Context, user *users.User, ident *Identity, roles []string, mapRoles bool) error {
	if ident.EmailVerified && !user.EmailVerified && strings.EqualFold(ident.Email, user.Email) {
		if err := s.users.Store().SetEmailVerified(ctx, user.ID, user.Email); err != nil {
			return err
		}
		user.EmailVerified = true
	}
	name := user.Name
	if ident.Name != "" {
		name = ident.Name
	}
	if !mapRoles {
		roles = user.Roles
	}
	if name == user.Name && slices.Equal(sorted(roles), sorted(user.Roles)) {
		return nil
	}
	updated, err := s.users.Update(ctx, user.ID, name, roles)
	if err != nil {
		return err
	}
	*user = *updated
	return nil
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
