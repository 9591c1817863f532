package upstreams

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// revokeTimeout bounds a revocation at an upstream, which nobody waits for.
const revokeTimeout = 10 * time.Second

// giveBack tells upstream u, through its revocation endpoint (RFC 7009)
// when its discovery names one, that idp no longer holds grant g of
// account sub: the refresh token a newer sign-in replaced, or that of a
// link its owner removed. Until then the token would stay live at the
// upstream, for nobody's use, until it expired. It runs in the background
// (the sign-in or unlink does not wait on the upstream) and is best
// effort: a failure is logged, never the token.
func (s *Service) giveBack(u *Upstream, sub string, g *grant) {
	if token, _ := g.token(); token == "" || u.Kind != KindOIDC {
		return // GitHub and plain OAuth 2.0 providers name no RFC 7009 endpoint
	}
	s.background.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		defer cancel()
		p, err := s.provider(ctx, u)
		if err == nil {
			err = s.revokeGrant(ctx, u, p, g)
		}
		s.logGiveBack(u, sub, err)
	})
}

// giveBackAll gives back, as giveBack does, the grants kept of the links
// that went with upstream u when it was deleted: otherwise each would stay
// live at the upstream for nobody's use. p is u's discovery as idp had it
// cached (nil: none); without it one discovery serves all of them, not
// cached, since u is gone. One background task revokes them in turn, so a
// large upstream is not hit by as many requests at once. A grant that does
// not open under this master key cannot be given back and is skipped.
func (s *Service) giveBackAll(u *Upstream, p *provider, kept []keptGrant) {
	if u.Kind != KindOIDC || len(kept) == 0 {
		return // GitHub and plain OAuth 2.0 providers name no RFC 7009 endpoint
	}
	s.background.Go(func() {
		if p == nil {
			ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
			var err error
			p, err = s.discover(ctx, u)
			cancel()
			if err != nil {
				s.log().Warn("upstream token not revoked", "upstream", u.ID, "tokens", len(kept), "error", err.Error())
				return
			}
		}
		for _, k := range kept {
			s.giveBackNow(u, p, k)
		}
	})
}

// giveBackNow revokes the grant of k at u, bounded by revokeTimeout.
func (s *Service) giveBackNow(u *Upstream, p *provider, k keptGrant) {
	g, err := s.openGrant(k.UpstreamID, k.Sub, k.Sealed)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		err = s.revokeGrant(ctx, u, p, g)
		cancel()
	}
	s.logGiveBack(u, k.Sub, err)
}

// revokeGrant revokes g's token at u's revocation endpoint (p), if g has
// one and u names an endpoint.
func (s *Service) revokeGrant(ctx context.Context, u *Upstream, p *provider, g *grant) error {
	token, hint := g.token()
	if token == "" {
		return nil
	}
	return s.revokeAt(ctx, u, p, token, hint)
}

// logGiveBack logs a give-back that failed: which upstream and account,
// and why; never the token.
func (s *Service) logGiveBack(u *Upstream, sub string, err error) {
	if err != nil {
		s.log().Warn("upstream token not revoked", "upstream", u.ID, "upstream_sub", sub, "error", err.Error())
	}
}

// token is what of g to give back, with its RFC 7009 §2.1 type hint: the
// refresh token (the upstream should then end the access tokens of the
// same grant too, §2.1), else the access token.
func (g *grant) token() (token, hint string) {
	if g.RefreshToken != "" {
		return g.RefreshToken, "refresh_token"
	}
	return g.AccessToken, "access_token"
}

func (s *Service) revokeAt(ctx context.Context, u *Upstream, p *provider, token, hint string) error {
	if p.revocationURL == "" {
		return nil
	}
	resp, err := s.clientPost(ctx, u, p, p.revocationURL, url.Values{"token": {token}, "token_type_hint": {hint}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != http.StatusOK { // RFC 7009 §2.2: 200 also for a token already gone
		return fmt.Errorf("revocation endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// log is the Service's logger (Config.Log), discarding when none is set.
func (s *Service) log() *slog.Logger {
	if s.cfg.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.cfg.Log
}

// Wait waits for the background revocations started so far, for a clean
// shutdown (and for tests).
func (s *Service) Wait() { s.background.Wait() }

// Drain is Wait bounded by ctx: at shutdown, the give-backs still running
// (an `idp upstreams delete` has just started them) get until ctx ends to
// finish. It reports whether they all did.
func (s *Service) Drain(ctx context.Context) bool {
	done := make(chan struct{})
	go func() { s.background.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
