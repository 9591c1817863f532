package app

import (
	"context"
	"errors"
	"fmt"

	"idp/tokens"
	"idp/upstreams"
)

// checkUpstream is tokens.Config.UpstreamCheck: a refresh of a family
// signed in through an upstream asks that upstream again (package
// upstreams), and the upstream's "no" becomes the token service's
// tokens.ErrUpstreamRefused. Every other failure stays what it is, which
// the token service takes as "could not ask".
func (a *App) checkUpstream(ctx context.Context, userID, upstreamID, upstreamSub string) error {
	err := a.Upstreams.Check(ctx, userID, upstreamID, upstreamSub)
	if errors.Is(err, upstreams.ErrRefused) {
		return fmt.Errorf("%w: %w", tokens.ErrUpstreamRefused, err)
	}
	return err
}
