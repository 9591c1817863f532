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
	token, hint := g.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = g.AccessToken, "access_token"
	}
	if token == "" || u.Kind != KindOIDC {
		return // GitHub and plain OAuth 2.0 providers name no RFC 7009 endpoint
	}
	s.background.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout)
		defer cancel()
		err := s.revokeAt(ctx, u, token, hint)
		if err != nil {
			s.log().Warn("upstream token not revoked", "upstream", u.ID, "upstream_sub", sub, "error", err.Error())
		}
	})
}

func (s *Service) revokeAt(ctx context.Context, u *Upstream, token, hint string) error {
	p, err := s.provider(ctx, u)
	if err != nil || p.revocationURL == "" {
		return err
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
