package tokens

import (
	"context"
	"errors"
	"time"

	"idp/oauth"
	"idp/resources"
)

// ResourcePolicy checks that an access token's resources are registered
// and returns what they ask of it; *resources.Service satisfies it.
type ResourcePolicy interface {
	Policy(ctx context.Context, uris []string) (resources.Policy, error)
}

// accessPolicy fixes the signing algorithm and expiry of an access token
// for audience: the client's algorithm and the provider's lifetime, unless
// the resources ask for their own (a shorter lifetime, one algorithm). A
// resource that is not registered, or resources that disagree on the
// algorithm, are invalid_target (RFC 8707 §2).
func (s *Service) accessPolicy(ctx context.Context, clientAlg string, audience []string, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.cfg.AccessTokenTTL)
	if len(audience) == 0 || s.cfg.Resources == nil {
		return clientAlg, exp, nil
	}
	p, err := s.cfg.Resources.Policy(ctx, audience)
	switch {
	case errors.Is(err, resources.ErrUnknown):
		return "", time.Time{}, &oauth.Error{Code: "invalid_target", Status: 400, Description: "the resource is not registered with this provider"}
	case errors.Is(err, resources.ErrMixedAlgs):
		return "", time.Time{}, &oauth.Error{Code: "invalid_target", Status: 400, Description: "these resources ask for different signing algorithms; request a token for each"}
	case err != nil:
		return "", time.Time{}, err
	}
	alg := clientAlg
	if p.SigningAlg != "" {
		alg = p.SigningAlg
	}
	if p.TTL > 0 && p.TTL < s.cfg.AccessTokenTTL {
		exp = now.Add(p.TTL)
	}
	return alg, exp, nil
}

// CheckResources refuses, with invalid_target, resources that are not
// registered: the authorization endpoint asks before it stores a request.
func (s *Service) CheckResources(ctx context.Context, audience []string) error {
	_, _, err := s.accessPolicy(ctx, "", audience, s.now())
	return err
}
