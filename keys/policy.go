package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Policy is the serving policy of one `idp serve` process: the settings
// relying services were given (the JWKS max-age) and the ones the key
// schedule follows. Every serving process records its own at start and
// refreshes SeenAt while it runs, so that every caller — a scheduler on any
// replica, an admin command, the admin pages and API — judges the schedule
// from what relying services were actually told, not from its own flags.
type Policy struct {
	// Instance is a random id of the process, fresh at every start.
	Instance string
	// Host and PID say which process it is, for people.
	Host string
	PID  int
	// StartedAt is when it registered; SeenAt when it last said it runs.
	StartedAt, SeenAt time.Time
	// StoppedAt is set when it shut down gracefully.
	StoppedAt *time.Time
	// JWKSMaxAge is the Cache-Control max-age of the JWKS it serves.
	JWKSMaxAge time.Duration
	// CacheTTL is how long it takes to see a key another process published.
	CacheTTL time.Duration
	// RotationInterval is how often its scheduler rotates keys.
	RotationInterval time.Duration
	// TokenTTL is the lifetime of the tokens it signs.
	TokenTTL time.Duration
	// ClockSkew is the margin a retired key stays published past its last
	// token's expiry, for relying services whose clocks run late.
	ClockSkew time.Duration
}

// heartbeat is how often a serving process refreshes its SeenAt. A process
// not seen for three heartbeats is taken to be gone.
const heartbeat = 15 * time.Second

// policyRetention is how long the policy of a process that is gone is kept
// for the admin pages once no relying service can still cache its JWKS.
const policyRetention = 7 * 24 * time.Hour

// Live reports whether the process still runs at now: not stopped, and
// seen within three heartbeats.
func (p Policy) Live(now time.Time) bool {
	return p.StoppedAt == nil && now.Sub(p.SeenAt) <= 3*heartbeat
}

// cachedUntil is when the last JWKS the process served, if it is gone,
// drops out of every relying service's cache: a crashed process may have
// served until just before its next heartbeat was due.
func (p Policy) cachedUntil() time.Time {
	if p.StoppedAt != nil {
		return p.StoppedAt.Add(p.JWKSMaxAge)
	}
	return p.SeenAt.Add(2*heartbeat + p.JWKSMaxAge)
}

// relevant reports whether p still constrains the schedule at now: it runs,
// or relying services may still hold a JWKS it served.
func (p Policy) relevant(now time.Time) bool {
	return p.Live(now) || now.Before(p.cachedUntil())
}

// MarshalJSON writes durations as whole seconds, for scripts and the admin
// API; Go duration strings are not a format other languages parse.
func (p Policy) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Instance         string     `json:"instance"`
		Host             string     `json:"host"`
		PID              int        `json:"pid"`
		StartedAt        time.Time  `json:"started_at"`
		SeenAt           time.Time  `json:"seen_at"`
		StoppedAt        *time.Time `json:"stopped_at,omitempty"`
		JWKSMaxAge       float64    `json:"jwks_max_age_seconds"`
		CacheTTL         float64    `json:"key_cache_seconds"`
		RotationInterval float64    `json:"key_rotation_interval_seconds"`
		TokenTTL         float64    `json:"access_token_ttl_seconds"`
		ClockSkew        float64    `json:"clock_skew_seconds"`
	}{p.Instance, p.Host, p.PID, p.StartedAt, p.SeenAt, p.StoppedAt, p.JWKSMaxAge.Seconds(), p.CacheTTL.Seconds(),
		p.RotationInterval.Seconds(), p.TokenTTL.Seconds(), p.ClockSkew.Seconds()})
}

// Register records this process as serving the JWKS with its Options, so
// that keys published by any process from now on wait for its max-age. Call
// it once at the start of `idp serve`, before Bootstrap, and Deregister at
// shutdown; Run keeps the record fresh. host and pid only identify the
// process for people. A wrong master key fails it with ErrWrongMasterKey
// before anything is written.
func (m *Manager) Register(ctx context.Context, host string, pid int) (Policy, error) {
	// Decrypt what is stored first: a process given the wrong master key
	// fails with ErrWrongMasterKey before it writes anything.
	m.invalidate()
	if _, err := m.current(ctx); err != nil {
		return Policy{}, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	now := m.now()
	p := Policy{
		Instance: hex.EncodeToString(id[:]), Host: host, PID: pid, StartedAt: now, SeenAt: now,
		JWKSMaxAge: m.opts.JWKSMaxAge, CacheTTL: m.opts.CacheTTL, RotationInterval: m.opts.RotationInterval,
		TokenTTL: m.opts.TokenTTL, ClockSkew: m.opts.ClockSkew,
	}
	err := m.store.tx(ctx, func(ctx context.Context) error {
		if err := m.store.lock(ctx); err != nil {
			return err
		}
		return m.store.putPolicy(ctx, p)
	})
	if err != nil {
		return Policy{}, err
	}
	m.self.Store(&p)
	m.lastBeat = now
	m.log.Info("serving policy recorded", "instance", p.Instance, "jwks_max_age", p.JWKSMaxAge.String(),
		"key_rotation_interval", p.RotationInterval.String(), "token_ttl", p.TokenTTL.String())
	return p, nil
}

// Deregister marks this process's policy stopped at shutdown, so admin
// pages no longer count it as running; it still constrains the schedule
// until the JWKS it served has left relying services' caches.
func (m *Manager) Deregister(ctx context.Context) error {
	p := m.self.Load()
	if p == nil {
		return nil
	}
	now := m.now()
	return m.store.touchPolicy(ctx, p.Instance, now, &now)
}

// Policies returns every recorded serving policy, oldest first.
func (m *Manager) Policies(ctx context.Context) ([]Policy, error) {
	return m.store.policies(ctx)
}

// beat refreshes this process's policy every heartbeat, prunes policies of
// processes long gone, and raises the signing time of next keys this
// process may have served a JWKS without (see raiseNext).
func (m *Manager) beat(ctx context.Context) error {
	p := m.self.Load()
	now := m.now()
	if p == nil || now.Sub(m.lastBeat) < heartbeat && now.After(m.lastBeat) {
		return nil
	}
	m.lastBeat = now
	if err := m.store.touchPolicy(ctx, p.Instance, now, nil); err != nil {
		return err
	}
	if err := m.store.prunePolicies(ctx, now.Add(-policyRetention)); err != nil {
		return err
	}
	return m.raiseNext(ctx, p)
}

// raiseNext makes sure no next key signs before relying services that
// fetched this process's JWKS have it: a key created after this process
// registered may have been missing from the JWKS it served for up to
// CacheTTL, cached JWKSMaxAge longer. Publishers already count every
// registered process; this is the rule "a replica that serves a longer
// max-age raises a next key's time, never lowers it" for whatever they
// could not know.
func (m *Manager) raiseNext(ctx context.Context, p *Policy) error {
	for _, alg := range Algs {
		_, next, err := m.store.pair(ctx, alg)
		if err != nil || next == nil || next.CreatedAt.Before(p.StartedAt) {
			if err != nil {
				return err
			}
			continue
		}
		want := next.CreatedAt.Add(m.opts.CacheTTL + p.JWKSMaxAge)
		if next.SignsFrom != nil && !next.SignsFrom.Before(want) {
			continue
		}
		var raised bool
		err = m.store.tx(ctx, func(ctx context.Context) error {
			if err := m.store.lock(ctx); err != nil {
				return err
			}
			raised, err = m.store.raise(ctx, next.KID, want)
			return err
		})
		if err != nil {
			return err
		}
		if raised {
			m.invalidate()
			m.log.Warn("raised a next key's signing time to this process's JWKS max-age", "alg", alg,
				"kid", next.KID, "signs_from", want)
		}
	}
	return nil
}

// schedule is what a key-publishing transaction decides from the recorded
// policies: when a key published now may first sign, and how long past its
// last token's expiry a key retired now stays published.
type schedule struct {
	signsFrom time.Time
	skew      time.Duration
}

// scheduleAt reads the policies inside the caller's transaction (after
// lock) and applies the most conservative of them and of this process.
func (m *Manager) scheduleAt(ctx context.Context, now time.Time) (schedule, error) {
	ps, err := m.store.policies(ctx)
	if err != nil {
		return schedule{}, err
	}
	return m.scheduleFrom(ps, now), nil
}

// scheduleFrom is scheduleAt's rule. A key published now reaches the JWKS
// of every serving process within that process's CacheTTL (its own
// included: a JWKS response being written as the key commits goes out
// without it), and relying services then cache the JWKS for its max-age:
//   - this process, unless an admin command, and every other running one:
//     now + CacheTTL + JWKSMaxAge;
//   - a process that is gone: relying services may hold its last JWKS
//     until it leaves their caches;
//   - an admin command that finds no policy at all falls back to the
//     contract's default max-age: a server of an earlier version records
//     none, and one may start with the default at any moment.
func (m *Manager) scheduleFrom(ps []Policy, now time.Time) schedule {
	sc := schedule{signsFrom: now}
	self := m.self.Load()
	if !m.opts.Admin {
		sc.signsFrom, sc.skew = now.Add(m.opts.CacheTTL+m.opts.JWKSMaxAge), m.opts.ClockSkew
	}
	known := false
	for _, p := range ps {
		if (self != nil && p.Instance == self.Instance) || !p.relevant(now) {
			continue
		}
		known = true
		at := p.cachedUntil()
		if p.Live(now) {
			at = now.Add(p.CacheTTL + p.JWKSMaxAge)
		}
		sc.signsFrom = later(sc.signsFrom, at)
		sc.skew = max(sc.skew, p.ClockSkew)
	}
	if m.opts.Admin && !known {
		sc.signsFrom, sc.skew = now.Add(MaxCacheTTL+DefaultJWKSMaxAge), DefaultClockSkew
	}
	return sc
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Disagreement describes serving processes that run with different
// settings, which the admin pages and commands warn about: the schedule
// then follows the most conservative of them, which may not be what the
// operator expects. Empty when all running processes agree.
func Disagreement(ps []Policy, now time.Time) string {
	var first *Policy
	for i := range ps {
		p := &ps[i]
		if !p.Live(now) {
			continue
		}
		if first == nil {
			first = p
			continue
		}
		if p.JWKSMaxAge != first.JWKSMaxAge || p.RotationInterval != first.RotationInterval || p.TokenTTL != first.TokenTTL {
			return fmt.Sprintf("running processes disagree: %s (pid %d) serves jwks-max-age %s, key-rotation-interval %s, "+
				"access-token-ttl %s; %s (pid %d) serves %s, %s, %s; keys follow the most conservative",
				first.Host, first.PID, first.JWKSMaxAge, first.RotationInterval, first.TokenTTL,
				p.Host, p.PID, p.JWKSMaxAge, p.RotationInterval, p.TokenTTL)
		}
	}
	return ""
}
