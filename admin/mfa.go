package admin

import (
	"context"
	"fmt"
	"strings"
)

// Factors is what second factors a user has, as admins see it: kinds and
// counts, never a secret.
type Factors struct {
	Kinds        []string `json:"factors"`
	Passkeys     int      `json:"passkeys"`
	TOTP         bool     `json:"totp"`
	RecoveryLeft int      `json:"recovery_codes_left"`
	// PasskeyList describes each passkey, oldest first.
	PasskeyList []Passkey `json:"passkey_list"`
	// TOTPConfirmed and TOTPLastUsed time the authenticator app, if any.
	TOTPConfirmed *Time `json:"totp_confirmed_at,omitempty"`
	TOTPLastUsed  *Time `json:"totp_last_used_at,omitempty"`
	// RecoveryTotal counts the codes of the current set, used or not.
	RecoveryTotal int `json:"recovery_codes_total"`
}

// Passkey is one registered passkey as admins see it: never the key.
type Passkey struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	AAGUID   string `json:"aaguid"` // the authenticator model; all zeros when it did not say
	Synced   bool   `json:"synced"`
	Created  Time   `json:"created_at"`
	LastUsed *Time  `json:"last_used_at,omitempty"`
}

// UserFactors returns the second factors of a user.
func (s *Service) UserFactors(ctx context.Context, ref UserRef) (Factors, error) {
	u, err := s.user(ctx, ref)
	if err != nil {
		return Factors{}, err
	}
	f, err := s.mfa.Of(ctx, u.ID)
	if err != nil {
		return Factors{}, fmt.Errorf("load factors: %w", err)
	}
	out := Factors{Kinds: f.Kinds(), Passkeys: len(f.Passkeys), TOTP: f.TOTP != nil, RecoveryLeft: f.RecoveryLeft,
		PasskeyList: make([]Passkey, 0, len(f.Passkeys)), RecoveryTotal: f.RecoveryTotal}
	for _, p := range f.Passkeys {
		out.PasskeyList = append(out.PasskeyList, Passkey{p.ID, p.Name, p.AAGUID, p.Synced, Time{p.Created}, at(p.LastUsed)})
	}
	if f.TOTP != nil {
		out.TOTPConfirmed, out.TOTPLastUsed = &Time{f.TOTP.Confirmed}, at(f.TOTP.LastUsed)
	}
	return out, nil
}

// ResetMFA removes every second factor of a user (passkeys, authenticator
// app, recovery codes) for someone who lost them, and ends their sessions
// so the next sign-in goes through enrollment if a policy demands it. It
// reports whether there was anything to remove; an unknown user is
// ErrNotFound.
func (s *Service) ResetMFA(ctx context.Context, actor Actor, ref UserRef) (bool, error) {
	ctx = as(ctx, actor)
	u, err := s.user(ctx, ref)
	if err != nil {
		return false, err
	}
	before, err := s.mfa.Of(ctx, u.ID)
	if err != nil {
		return false, fmt.Errorf("load factors: %w", err)
	}
	removed, err := s.mfa.Reset(ctx, u.ID)
	if err != nil {
		return false, err
	}
	if !removed {
		return false, nil
	}
	if err := s.sessions.EndAll(ctx, u.ID); err != nil {
		return true, fmt.Errorf("end sessions: %w", err)
	}
	s.record(ctx, "mfa.reset", u.ID, "email="+u.Email+" removed="+strings.Join(before.Kinds(), ","))
	return true, nil
}

// withFactors fills the Factors of each user view.
func (s *Service) withFactors(ctx context.Context, list []User) error {
	for i := range list {
		f, err := s.mfa.Of(ctx, list[i].ID)
		if err != nil {
			return fmt.Errorf("load factors of %s: %w", list[i].Email, err)
		}
		list[i].Factors = f.Kinds()
	}
	return nil
}
