package admin

import (
	"context"
	"errors"
	"fmt"

	"idp/db"
	"idp/keys"
)

// Keys lists every signing key, newest first, with the serving policies
// the key schedule follows and a warning when running servers disagree.
func (s *Service) Keys(ctx context.Context) (Keys, error) {
	list, err := s.keys.List(ctx)
	if err != nil {
		return Keys{}, fmt.Errorf("list keys: %w", err)
	}
	ps, err := s.keys.Policies(ctx)
	if err != nil {
		return Keys{}, fmt.Errorf("list serving policies: %w", err)
	}
	out := Keys{Keys: make([]Key, 0, len(list)), Policies: ps, Warning: keys.Disagreement(ps, s.now())}
	if out.Policies == nil {
		out.Policies = []keys.Policy{}
	}
	for _, k := range list {
		out.Keys = append(out.Keys, keyView(k))
	}
	return out, nil
}

// RotateKey rotates alg by the stored schedule: before the next key's
// signing time it is *TooEarlyError unless force. A rotation by another
// process at the same moment is ErrConflict. The key events are audited
// by the key manager, as the actor.
func (s *Service) RotateKey(ctx context.Context, actor Actor, alg string, force bool) (Rotation, error) {
	if alg != keys.RS256 && alg != keys.ES256 {
		return Rotation{}, &InvalidError{Reason: fmt.Sprintf("alg must be RS256 or ES256, not %q", alg)}
	}
	rot, err := s.keys.Rotate(as(ctx, actor), alg, force)
	switch {
	case errors.As(err, new(*TooEarlyError)):
		return Rotation{}, err
	case errors.Is(err, keys.ErrAlreadyRotated):
		return Rotation{}, tagged{ErrConflict, err}
	case err != nil:
		return Rotation{}, err
	}
	out := Rotation{Activated: keyView(rot.Activated), Next: keyView(rot.Next)}
	if rot.Retired.KID != "" {
		r := keyView(rot.Retired)
		out.Retired = &r
	}
	return out, nil
}

// SafeAt is when rotating alg without force becomes allowed.
func (s *Service) SafeAt(ctx context.Context, alg string) (Time, error) {
	t, err := s.keys.SafeAt(ctx, alg)
	return Time{t}, err
}

// RevokeKey withdraws a key at once (emergency); an unknown kid is
// ErrNotFound, an already revoked one ErrConflict.
func (s *Service) RevokeKey(ctx context.Context, actor Actor, kid string) (Key, error) {
	k, err := s.keys.Revoke(as(ctx, actor), kid)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return Key{}, tagged{ErrNotFound, err}
	case errors.Is(err, keys.ErrAlreadyRevoked):
		return Key{}, tagged{ErrConflict, err}
	case err != nil:
		return Key{}, err
	}
	return keyView(*k), nil
}
