package app

import (
	"context"
	"sync"
	"time"
)

// purgeEvery is how often Run deletes expired rows; purgeBatch bounds one
// delete, so no write lock is held long enough to delay a request.
const (
	purgeEvery = time.Minute
	purgeBatch = 500
)

// Run runs the background loops of a serving process until ctx ends, and
// returns once they have stopped (so the database can close under none of
// them): the key scheduler (keys.Manager.Run) and the purge of expired
// rows every minute, the mail outbox (mail.Service.Run: a no-op without
// --smtp-url) and the back-channel logout queue (logout.Service.Run).
// Every replica runs them; each is safe to run together with its twins
// elsewhere.
func (a *App) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); a.Keys.Run(ctx) }()
	go func() { defer wg.Done(); a.Logout.Run(ctx) }()
	go func() { defer wg.Done(); a.purgeLoop(ctx) }()
	go func() { defer wg.Done(); a.Mail.Run(ctx) }()
	wg.Wait()
}

// purgeLoop calls Purge every purgeEvery until nothing is left, logging
// failures.
func (a *App) purgeLoop(ctx context.Context) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for ctx.Err() == nil {
			n, err := a.Purge(ctx, purgeBatch)
			if err != nil {
				a.cfg.Logger.Error("purge expired rows failed", "error", err.Error())
				break
			}
			if n == 0 {
				break
			}
		}
	}
}

// DefaultRegistrationIdleTTL is how long an open registration may go
// without obtaining a token before the purge deletes it.
const DefaultRegistrationIdleTTL = 30 * 24 * time.Hour

// Purge deletes one batch of at most limit expired rows of each kind:
// codes, pending requests, refresh families and denylist entries, used
// DPoP proofs, sessions
// and half-done sign-ins, WebAuthn challenges, sign-in throttle
// counters, expired mailed links (password reset), and mail outbox and
// back-channel logout rows finished more than a week ago. Expired
// sessions end through sessions.PurgeExpired, which queues their logouts.
// Abandoned sign-ins at upstream providers and unconfirmed pending links
// go too. It reports how many
// it deleted.
func (a *App) Purge(ctx context.Context, limit int) (int64, error) {
	n, err := a.Tokens.Purge(ctx, limit)
	if err != nil {
		return n, err
	}
	m, err := a.Tokens.PurgeProofs(ctx, limit) // DPoP proofs past their window
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Sessions.PurgeExpired(ctx, limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Sessions.Store().DeleteExpiredSteps(ctx, a.cfg.Now(), limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.MFA.Purge(ctx, limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Throttle.Purge(ctx, limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Mail.Purge(ctx, limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.SelfService.Purge(ctx, limit)
	n += m
	if err != nil {
		return n, err
	}
	idle := a.cfg.Server.RegistrationIdleTTL
	if idle <= 0 {
		idle = DefaultRegistrationIdleTTL
	}
	m, err = a.Clients.PurgeIdleRegistrations(ctx, a.cfg.Now().Add(-idle), limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Logout.Purge(ctx, limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Clients.PurgeAssertions(ctx, limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Upstreams.Store().DeleteExpired(ctx, a.cfg.Now(), limit)
	n += m
	if err != nil {
		return n, err
	}
	m, err = a.Upstreams.Store().DeleteExpiredPendingLinks(ctx, a.cfg.Now(), limit)
	return n + m, err
}
