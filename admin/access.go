package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// EnableUser lets a disabled user sign in again. Their ended sessions and
// grants stay ended. An unknown user is ErrNotFound.
func (s *Service) EnableUser(ctx context.Context, actor Actor, ref UserRef) (User, error) {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return User{}, err
	}
	if err := s.users.Store().SetDisabled(ctx, u.ID, false); err != nil {
		return User{}, fmt.Errorf("enable user: %w", mapErr(err))
	}
	s.record(ctx, "user.enabled", u.ID, "email="+u.Email)
	u.Disabled = false
	return userView(u), nil
}

// Session is one of a user's SSO sessions as admins see it: never its
// cookie secret or hash.
type Session struct {
	ID       string `json:"id"`
	Created  Time   `json:"created_at"`
	LastSeen Time   `json:"last_seen_at"`
	Expires  Time   `json:"expires_at"`
	AuthTime Time   `json:"auth_time"`
	IP       string `json:"ip"`
	Agent    string `json:"user_agent"`
}

// Grant is one of a user's live offline-access grants (a refresh-token
// family): never a token.
type Grant struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Created  Time   `json:"created_at"`
	LastUsed Time   `json:"last_used_at"`
	IP       string `json:"ip"`
	Agent    string `json:"user_agent"`
}

// Access is what a user holds: their live sessions and grants.
type Access struct {
	User     User      `json:"user"`
	Sessions []Session `json:"sessions"`
	Grants   []Grant   `json:"grants"`
}

// UserAccess lists a user's live sessions and offline grants, newest
// first. An unknown user is ErrNotFound.
func (s *Service) UserAccess(ctx context.Context, ref UserRef) (Access, error) {
	u, err := s.user(ctx, ref)
	if err != nil {
		return Access{}, err
	}
	ss, err := s.sessions.List(ctx, u.ID)
	if err != nil {
		return Access{}, fmt.Errorf("list sessions: %w", err)
	}
	gs, err := s.tokens.Grants(ctx, u.ID)
	if err != nil {
		return Access{}, fmt.Errorf("list grants: %w", err)
	}
	out := Access{User: userView(u), Sessions: make([]Session, 0, len(ss)), Grants: make([]Grant, 0, len(gs))}
	for _, x := range ss {
		out.Sessions = append(out.Sessions, Session{x.ID, Time{x.CreatedAt}, Time{x.LastSeenAt}, Time{x.ExpiresAt},
			Time{x.AuthTime}, x.IP, x.UserAgent})
	}
	for _, g := range gs {
		out.Grants = append(out.Grants, Grant{g.ID, g.ClientID, Time{g.CreatedAt}, Time{g.LastUsedAt}, g.IP, g.UserAgent})
	}
	return out, nil
}

// UserUpdate changes a user's profile; a nil field is left as it is.
type UserUpdate struct {
	Name  *string
	Roles *[]string
}

// UpdateUser changes a user's name and roles. An unknown user is
// ErrNotFound. Tokens already issued keep the roles they carry until they
// expire; the next sign-in or refresh carries the new ones.
func (s *Service) UpdateUser(ctx context.Context, actor Actor, ref UserRef, up UserUpdate) (User, error) {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return User{}, err
	}
	name, roles := u.Name, u.Roles
	if up.Name != nil {
		name = *up.Name
	}
	if up.Roles != nil {
		roles = *up.Roles
	}
	if err := checkProfile(name, roles); err != nil {
		return User{}, err
	}
	if strings.EqualFold(actor.Name, u.Email) && u.HasRole("admin") && !slices.ContainsFunc(roles, func(r string) bool {
		return strings.TrimSpace(r) == "admin"
	}) {
		return User{}, &InvalidError{Reason: "you cannot remove the admin role from your own account"}
	}
	u, err = s.users.Update(ctx, u.ID, name, roles)
	if err != nil {
		return User{}, mapErr(err)
	}
	s.record(ctx, "user.updated", u.ID, fmt.Sprintf("email=%s roles=%s", u.Email, strings.Join(u.Roles, ",")))
	return userView(u), nil
}

// UnlockUser forgets the failed sign-ins counted against a user's account
// from every address, so a throttled or locked-out user may try again at
// once. It reports how many counters it removed. An unknown user is
// ErrNotFound.
func (s *Service) UnlockUser(ctx context.Context, actor Actor, ref UserRef) (int64, error) {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return 0, err
	}
	n, err := s.throttle.Unlock(ctx, u.Email)
	if err != nil {
		return 0, err
	}
	s.record(ctx, "user.unlocked", u.ID, fmt.Sprintf("email=%s counters=%d", u.Email, n))
	return n, nil
}

// Limits of a profile: roles are short words that scripts and access
// tokens carry; a name is a display name.
const (
	maxRoles   = 32
	maxRoleLen = 64
	maxNameLen = 200
)

// checkProfile refuses a name or roles no token should carry, saying
// every problem at once. Roles are trimmed and empty ones dropped later
// (users.Service normalises them).
func checkProfile(name string, roles []string) error {
	var errs []error
	if len([]rune(name)) > maxNameLen {
		errs = append(errs, fmt.Errorf("the name is longer than %d characters", maxNameLen))
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		errs = append(errs, errors.New("the name holds a control character"))
	}
	n := 0
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		n++
		if len(r) > maxRoleLen || strings.IndexFunc(r, notRoleRune) >= 0 {
			errs = append(errs, fmt.Errorf("role %q must be up to %d letters, digits, '.', '_', ':' or '-'", clip(r, maxRoleLen), maxRoleLen))
		}
	}
	if n > maxRoles {
		errs = append(errs, fmt.Errorf("a user may hold at most %d roles", maxRoles))
	}
	if len(errs) > 0 {
		return &InvalidError{Reason: errors.Join(errs...).Error()}
	}
	return nil
}

func notRoleRune(r rune) bool {
	return !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._:-", r)))
}

// clip shortens s to n bytes for an error message.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
