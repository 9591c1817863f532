package admin

import (
	"context"
	"fmt"

	"idp/upstreams"
)

// Upstreams lists the providers people may sign in with.
func (s *Service) Upstreams(ctx context.Context) ([]*upstreams.Upstream, error) {
	return s.upstreams.List(ctx)
}

// CreateUpstream registers an upstream provider (its secret sealed by the
// upstreams package), audited.
func (s *Service) CreateUpstream(ctx context.Context, actor Actor, spec upstreams.Spec) (*upstreams.Upstream, error) {
	ctx = as(ctx, actor)
	u, err := s.upstreams.Create(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("create upstream: %w", mapErr(err))
	}
	s.record(ctx, "upstream.create", u.ID, "issuer="+u.Issuer)
	return u, nil
}

// UpdateUpstream changes an upstream, audited.
func (s *Service) UpdateUpstream(ctx context.Context, actor Actor, id string, up upstreams.Update) (*upstreams.Upstream, error) {
	ctx = as(ctx, actor)
	u, err := s.upstreams.Update(ctx, id, up)
	if err != nil {
		return nil, fmt.Errorf("update upstream: %w", mapErr(err))
	}
	s.record(ctx, "upstream.update", id, "")
	return u, nil
}

// DeleteUpstream removes an upstream and its links (the users remain),
// audited.
func (s *Service) DeleteUpstream(ctx context.Context, actor Actor, id string) error {
	ctx = as(ctx, actor)
	if err := s.upstreams.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete upstream: %w", mapErr(err))
	}
	s.record(ctx, "upstream.delete", id, "")
	return nil
}
