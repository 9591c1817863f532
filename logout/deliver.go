package logout

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"idp/db"
)

// DeliverBatch tries up to limit due logouts, one after the other, and
// reports how many were delivered. Each is claimed first; one another
// replica claimed is skipped. A failed delivery (not 2xx, a timeout) is
// retried after a backoff and marked failed after MaxAttempts.
func (s *Service) DeliverBatch(ctx context.Context, limit int) (int, error) {
	n, _, err := s.deliverBatch(ctx, limit)
	return n, err
}

// deliverBatch is DeliverBatch that also says how many due rows it found.
func (s *Service) deliverBatch(ctx context.Context, limit int) (delivered, due int, err error) {
	rows, err := s.store.due(ctx, s.now(), limit)
	if err != nil {
		return 0, 0, fmt.Errorf("logout queue: %w", err)
	}
	for i := range rows {
		if ctx.Err() != nil {
			break
		}
		ok, err := s.attempt(ctx, &rows[i])
		if err != nil {
			return delivered, len(rows), err
		}
		if ok {
			delivered++
		}
	}
	return delivered, len(rows), nil
}

// errNoURI drops a row whose client no longer wants back-channel logout.
var errNoURI = errors.New("client has no backchannel_logout_uri")

// attempt claims, signs and posts one row, and records the outcome.
func (s *Service) attempt(ctx context.Context, r *deliveryRow) (bool, error) {
	owner, now := rand.Text(), s.now()
	won, err := s.store.claim(ctx, r.ID, owner, now, now.Add(s.cfg.Lease))
	if err != nil || !won {
		return false, err
	}
	r.Attempts++
	state, lastErr, next := StateDelivered, "", time.Time{}
	err = s.post(ctx, r)
	switch {
	case errors.Is(err, errNoURI):
		state = StateDropped
	case err != nil:
		state, lastErr = StateQueued, clip(err.Error())
		if r.Attempts >= s.cfg.MaxAttempts {
			state = StateFailed
		}
		next = s.now().Add(s.backoff(r.Attempts))
		s.cfg.Logger.WarnContext(ctx, "back-channel logout failed", "id", r.ID, "client", r.ClientID,
			"attempt", r.Attempts, "gave_up", state == StateFailed, "error", lastErr)
	}
	// A fresh context: the outcome must be recorded even when ctx ended
	// during the POST, or the logout would go again after the lease.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.store.finish(rec, r.ID, owner, state, lastErr, next, s.now()); err != nil {
		return false, fmt.Errorf("logout queue: record %s: %w", state, err)
	}
	switch state {
	case StateDelivered:
		s.cfg.Logger.InfoContext(ctx, "back-channel logout delivered", "id", r.ID, "client", r.ClientID, "attempt", r.Attempts)
	case StateFailed:
		if s.cfg.Audit != nil {
			s.cfg.Audit.Record(rec, "logout.backchannel_failed", r.ClientID,
				fmt.Sprintf("session=%s attempts=%d error=%s", r.SessionID, r.Attempts, lastErr))
		}
	}
	return state == StateDelivered, nil
}

// post signs a logout token for r and POSTs it to the client's
// backchannel_logout_uri (Back-Channel Logout 1.0 §2.5): form-encoded,
// within Timeout, redirects not followed; only a 2xx answer counts.
func (s *Service) post(ctx context.Context, r *deliveryRow) error {
	c, err := s.clients.ByID(ctx, r.ClientID)
	if errors.Is(err, db.ErrNotFound) {
		return errNoURI
	}
	if err != nil {
		return err
	}
	if c.BackchannelLogoutURI == "" {
		return errNoURI
	}
	alg := c.SigningAlg
	if alg == "" {
		alg = "RS256"
	}
	tok, err := s.token(ctx, alg, c.ID, r.UserID, r.SessionID, s.now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI,
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return fmt.Errorf("logout request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		// The error names the URL, never the body with the token.
		return fmt.Errorf("post logout token: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("relying party answered %s", resp.Status)
	}
	return nil
}

// backoff is the wait after the n-th failed attempt: Backoff, doubling,
// capped at MaxBackoff.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// clip shortens an error for the last_error column.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

// Counts returns how many logouts are queued, delivered and failed (over
// the rows Purge has not yet deleted), for /metrics.
func (s *Service) Counts(ctx context.Context) (queued, delivered, failed int64, err error) {
	m, err := s.store.counts(ctx)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("logout counts: %w", err)
	}
	return m[StateQueued], m[StateDelivered], m[StateFailed], nil
}

// Purge deletes up to limit finished rows older than Keep.
func (s *Service) Purge(ctx context.Context, limit int) (int64, error) {
	n, err := s.store.purge(ctx, s.now().Add(-s.cfg.Keep), limit)
	if err != nil {
		return n, fmt.Errorf("purge logouts: %w", err)
	}
	return n, nil
}

// pollEvery is how often Run looks for due logouts queued by other
// replicas or waiting for a retry; runBatch is how many it takes at once.
const (
	pollEvery = 5 * time.Second
	runBatch  = 20
)

// Drain delivers due logouts in batches while batches come back full.
func (s *Service) Drain(ctx context.Context) error {
	for ctx.Err() == nil {
		_, due, err := s.deliverBatch(ctx, runBatch)
		if err != nil || due < runBatch {
			return err
		}
	}
	return nil
}

// Run delivers due logouts until ctx ends: at once when this process
// ended a session, otherwise every few seconds. Every replica runs it.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		if err := s.Drain(ctx); err != nil {
			s.cfg.Logger.Error("logout queue failed", "error", err.Error())
		}
	}
}
