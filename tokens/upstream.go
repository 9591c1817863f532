package tokens

import (
	"context"
	"errors"
	"fmt"

	"idp/oauth"
)

// ErrUpstreamRefused is what Config.UpstreamCheck returns (wrapped) when
// the upstream provider a family was signed in through no longer vouches
// for the person: the refresh is invalid_grant and the family revoked.
var ErrUpstreamRefused = errors.New("the upstream provider no longer vouches for this account")

// UpstreamCheck asks upstream account (upstreamID, upstreamSub), the one
// user userID signed in through, whether it may still sign in. nil: yes
// (or nothing to ask); an error matching ErrUpstreamRefused: no; any other
// error: the upstream could not be asked. The app wires it to package
// upstreams, which tokens does not import.
type UpstreamCheck func(ctx context.Context, userID, upstreamID, upstreamSub string) error

// UpstreamFailure is the cause of a refresh the upstream check stopped,
// for the token endpoint's log line and metric; the client sees only the
// OAuth error.
type UpstreamFailure struct {
	// Upstream is the id of the upstream asked (a configured one: it is
	// the family's, which came from a sign-in through it).
	Upstream string
	// Refused: the upstream said no and the family was revoked; otherwise
	// it could not be asked and nothing was revoked.
	Refused bool
	err     error
}

func (f *UpstreamFailure) Error() string {
	if f.Refused {
		return "upstream " + f.Upstream + " refused: " + f.err.Error()
	}
	return "upstream " + f.Upstream + " unavailable: " + f.err.Error()
}

func (f *UpstreamFailure) Unwrap() error { return f.err }

// checkUpstream asks the upstream of a federated family before it is
// refreshed. A refusal revokes the family (as a reuse does, its access
// tokens included) and is invalid_grant (RFC 6749 §5.2: the grant is
// revoked). An upstream that cannot be asked says nothing about the
// person, so nothing is revoked and the answer is 503
// temporarily_unavailable: invalid_grant would tell the client its
// refresh token is dead (clients then drop it and sign the user in
// again), whereas a 5xx is "try again later" to every OAuth client
// library, and the same refresh token works once the upstream is back.
func (s *Service) checkUpstream(ctx context.Context, fam *familyRow) error {
	err := s.cfg.UpstreamCheck(ctx, fam.UserID, fam.UpstreamID, fam.UpstreamSub)
	if err == nil {
		return nil
	}
	f := &UpstreamFailure{Upstream: fam.UpstreamID, Refused: errors.Is(err, ErrUpstreamRefused), err: err}
	if !f.Refused {
		return oauth.TemporarilyUnavailable("the upstream identity provider could not be reached; try again later").Wrap(f)
	}
	// Every live family of that upstream account goes, not only this one:
	// the upstream's no is about the person, whichever client asks next.
	ids, rerr := s.store.upstreamFamilies(ctx, fam.UpstreamID, fam.UpstreamSub)
	if rerr != nil {
		return fmt.Errorf("find the upstream account's families: %w", rerr)
	}
	for _, other := range ids {
		revoked, rerr := s.store.revokeFamily(ctx, other.ID, s.now())
		if rerr != nil {
			return fmt.Errorf("revoke family: %w", rerr)
		}
		if revoked {
			s.audit(ctx, "refresh.revoked", other.ID, "client="+other.ClientID+" user="+other.UserID+
				" reason=upstream upstream="+other.UpstreamID)
		}
	}
	return oauth.InvalidGrant("the upstream identity provider no longer allows this sign-in; the grant has been revoked").Wrap(f)
}
