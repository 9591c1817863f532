package admin

import (
	"context"
	"errors"
	"fmt"

	"idp/db"
	"idp/sessions"
)

// byAdmin is how the events of these actions say who ended the access: the
// actor's name is in the event's actor field.
const byAdmin = "an administrator"

// EndSession signs a user out of one session (its cookie stops working at
// once). An unknown user, or a session that is not a live one of theirs,
// is ErrNotFound, so session ids of other users cannot be probed.
func (s *Service) EndSession(ctx context.Context, actor Actor, ref UserRef, sessionID string) error {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return err
	}
	if sessionID == "" {
		return tagged{ErrNotFound, errors.New("no session named")}
	}
	err = s.sessions.End(ctx, u.ID, sessionID)
	switch {
	case errors.Is(err, sessions.ErrNoSession):
		return tagged{ErrNotFound, fmt.Errorf("session of %s: %w", u.Email, err)}
	case err != nil:
		return err
	}
	s.record(ctx, "session.ended", u.ID, "session="+sessionID+" by "+byAdmin)
	return nil
}

// RevokeGrant revokes one of a user's offline grants (a refresh-token
// family and the access tokens minted from it). An unknown user, a grant
// of someone else, or one already revoked is ErrNotFound. The one event is
// family.revoked, recorded as the actor by the tokens package (as the
// revocation endpoint and the account page record it).
func (s *Service) RevokeGrant(ctx context.Context, actor Actor, ref UserRef, grantID string) error {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return err
	}
	if grantID == "" {
		return tagged{ErrNotFound, errors.New("no grant named")}
	}
	revoked, err := s.tokens.RevokeGrantBy(ctx, u.ID, grantID, byAdmin)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return tagged{ErrNotFound, fmt.Errorf("grant of %s: %w", u.Email, err)}
	case err != nil:
		return fmt.Errorf("revoke grant: %w", err)
	case !revoked:
		return tagged{ErrNotFound, fmt.Errorf("grant of %s: already revoked", u.Email)}
	}
	return nil
}

// Ended counts what EndAccess ended.
type Ended struct {
	Sessions int `json:"sessions"`
	Grants   int `json:"grants"`
}

// EndAccess signs a user out everywhere: every session ends and every
// offline grant is revoked (each grant's family.revoked event is recorded
// by the tokens package). The user may sign in again; DisableUser is the
// way to stop that. An unknown user is ErrNotFound.
func (s *Service) EndAccess(ctx context.Context, actor Actor, ref UserRef) (Ended, error) {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return Ended{}, err
	}
	ss, err := s.sessions.List(ctx, u.ID)
	if err != nil {
		return Ended{}, fmt.Errorf("list sessions: %w", err)
	}
	gs, err := s.tokens.Grants(ctx, u.ID)
	if err != nil {
		return Ended{}, fmt.Errorf("list grants: %w", err)
	}
	if err := s.sessions.EndAll(ctx, u.ID); err != nil {
		return Ended{}, fmt.Errorf("end sessions: %w", err)
	}
	if err := s.tokens.RevokeUserGrants(ctx, u.ID); err != nil {
		return Ended{}, fmt.Errorf("revoke grants: %w", err)
	}
	out := Ended{Sessions: len(ss), Grants: len(gs)}
	s.record(ctx, "logout.everywhere", u.ID, fmt.Sprintf("email=%s sessions=%d grants=%d by %s", u.Email, out.Sessions, out.Grants, byAdmin))
	return out, nil
}

// Lock is what the sign-in throttle holds against a user's account.
type Lock struct {
	// Failures counts the recent failed sign-ins, from every address.
	Failures int `json:"failures"`
	// Locked says a wait is in force now; Until is when it ends.
	Locked bool  `json:"locked"`
	Until  *Time `json:"locked_until,omitempty"`
}

// UserLock reports whether a user's account is throttled now and how many
// failed sign-ins count against it. An unknown user is ErrNotFound.
func (s *Service) UserLock(ctx context.Context, ref UserRef) (Lock, error) {
	u, err := s.user(ctx, ref)
	if err != nil {
		return Lock{}, err
	}
	st, err := s.throttle.Account(ctx, u.Email)
	if err != nil {
		return Lock{}, err
	}
	out := Lock{Failures: st.Failures}
	if !st.LockedUntil.IsZero() {
		out.Locked, out.Until = true, &Time{st.LockedUntil}
	}
	return out, nil
}
