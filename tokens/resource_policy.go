package tokens

import (
	"context"
	"errors"
	"strings"
	"time"

	"idp/oauth"
	"idp/resources"
)

// ResourcePolicy checks that an access token's resources are registered
// and returns what they ask of it; *resources.Service satisfies it.
type ResourcePolicy interface {
	Policy(ctx context.Context, uris []string) (resources.Policy, error)
}

// accessTerms is what an access token's audience fixes: the algorithm
// that signs it, when it expires, and which scopes it may carry.
type accessTerms struct {
	alg      string
	exp      time.Time
	audience []string
	policy   resources.Policy
}

// allowed is granted less the API scopes the audience does not allow: a
// token narrowed to fewer resources (RFC 8707 §2.2), or for a resource
// whose scopes were edited since the grant, carries only what its
// resources declare now. OIDC scopes are never dropped.
func (a accessTerms) allowed(granted []string) []string { return a.policy.Allowed(granted) }

// check refuses, with invalid_scope (RFC 6749 §5.2, §4.1.2.1), the first
// requested API scope the audience does not allow.
func (a accessTerms) check(requested []string) error {
	for _, sc := range requested {
		if a.policy.Allows(sc) {
			continue
		}
		if len(a.audience) == 1 {
			return oauth.InvalidScope("resource " + a.audience[0] + " does not define scope " + sc)
		}
		return oauth.InvalidScope("none of the resources " + strings.Join(a.audience, ", ") + " defines scope " + sc)
	}
	return nil
}

// accessPolicy fixes the terms of an access token for audience: the
// client's algorithm and the provider's lifetime, unless the resources
// ask for their own (a shorter lifetime, one algorithm), and the scopes
// the resources allow. A resource that is not registered, or resources
// that disagree on the algorithm, are invalid_target (RFC 8707 §2).
func (s *Service) accessPolicy(ctx context.Context, clientAlg string, audience []string, now time.Time) (accessTerms, error) {
	t := accessTerms{alg: clientAlg, exp: now.Add(s.cfg.AccessTokenTTL), audience: audience}
	if len(audience) == 0 || s.cfg.Resources == nil {
		return t, nil
	}
	p, err := s.cfg.Resources.Policy(ctx, audience)
	switch {
	case errors.Is(err, resources.ErrUnknown):
		return accessTerms{}, &oauth.Error{Code: "invalid_target", Status: 400, Description: "the resource is not registered with this provider"}
	case errors.Is(err, resources.ErrMixedAlgs):
		return accessTerms{}, &oauth.Error{Code: "invalid_target", Status: 400, Description: "these resources ask for different signing algorithms; request a token for each"}
	case err != nil:
		return accessTerms{}, err
	}
	t.policy = p
	if p.SigningAlg != "" {
		t.alg = p.SigningAlg
	}
	if p.TTL > 0 && p.TTL < s.cfg.AccessTokenTTL {
		t.exp = now.Add(p.TTL)
	}
	return t, nil
}

// CheckResources refuses resources that are not registered
// (invalid_target) and requested scopes they do not allow
// (invalid_scope): the authorization and device authorization endpoints
// ask before they store a request.
func (s *Service) CheckResources(ctx context.Context, audience, scopes []string) error {
	t, err := s.accessPolicy(ctx, "", audience, s.now())
	if err != nil {
		return err
	}
	return t.check(scopes)
}
