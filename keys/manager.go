package keys

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of Options. DefaultRotationInterval is exported because a zero
// RotationInterval means "never rotate", so callers must ask for it.
const (
	// DefaultTokenTTL matches the contract's default access-token TTL.
	DefaultTokenTTL = 10 * time.Minute
	// DefaultClockSkew is the exp leeway commonly allowed by relying parties.
	DefaultClockSkew = time.Minute
	// DefaultJWKSMaxAge matches the contract's --jwks-max-age default.
	DefaultJWKSMaxAge = 5 * time.Minute
	// DefaultRotationInterval matches the contract's --key-rotation-interval.
	DefaultRotationInterval = 720 * time.Hour
	// MaxCacheTTL bounds how stale a process's view of the keys may be: the
	// contract promises that a running server sees a CLI key change within
	// five seconds.
	MaxCacheTTL = 5 * time.Second
)

// Options tune a Manager. Zero values take the defaults noted per field.
type Options struct {
	// Now is the clock (default time.Now); tests inject one they can advance.
	Now func() time.Time
	// TokenTTL is the longest lifetime of a token Sign signs (default 10m):
	// before signing, the key's signed_until is made to cover now+TokenTTL,
	// and a retired key stays published until signed_until plus ClockSkew.
	TokenTTL time.Duration
	// ClockSkew is how long a retired key stays published past the expiry
	// of the last token it signed, for relying services whose clocks run
	// late (default: TokenTTL, at least CacheTTL and at most 1m, so a
	// time-compressed test schedule drops retired keys promptly).
	ClockSkew time.Duration
	// JWKSMaxAge is the JWKS Cache-Control max-age (negative: 5m): a next key
	// must be published at least this long before it may sign, or relying
	// services holding a cached JWKS would reject its tokens.
	JWKSMaxAge time.Duration
	// RotationInterval is how long a key stays active before Tick rotates
	// it. 0 disables scheduled rotation; DefaultRotationInterval is 720h.
	RotationInterval time.Duration
	// CacheTTL is how long the in-memory key state is trusted before it is
	// reloaded from the database: how long a key published by another
	// process takes to reach this one's JWKS. Default CacheTTLFor(JWKSMaxAge),
	// at most MaxCacheTTL.
	CacheTTL time.Duration
	// Logger receives key events (default slog.Default()). Key material is
	// never logged, only kids.
	Logger *slog.Logger
	// Admin marks a process that serves no JWKS and signs no token (an
	// admin command): its own JWKSMaxAge, TokenTTL and ClockSkew do not
	// count, and the schedule follows the policies that serving processes
	// recorded (the contract's defaults where none is recorded).
	Admin bool
	// OnEvent, if set, is told of every key created, rotated or revoked
	// (action "key.created", "key.rotated", "key.revoked"), with the
	// caller's context, so the audit log can record who did it.
	OnEvent func(ctx context.Context, action, kid, detail string)
}

// CacheTTLFor is the default key-cache lifetime of a process serving the
// JWKS with maxAge: half of it, from 1 s up to MaxCacheTTL. The default
// 5m gets 5 s; a time-compressed schedule for testing relying services
// (--jwks-max-age 2s) gets 1 s, so its keys propagate as fast as it rotates.
func CacheTTLFor(maxAge time.Duration) time.Duration {
	return min(MaxCacheTTL, max(time.Second, maxAge/2))
}

// withDefaults fills zero fields and clamps the ones with hard limits.
func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.JWKSMaxAge < 0 { // 0 is legitimate: the JWKS is not cached at all
		o.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if o.CacheTTL <= 0 || o.CacheTTL > MaxCacheTTL {
		o.CacheTTL = CacheTTLFor(o.JWKSMaxAge)
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = min(DefaultClockSkew, max(o.TokenTTL, o.CacheTTL))
	}
	if o.RotationInterval < 0 {
		o.RotationInterval = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Key describes one signing key without its private part (List, admin UI).
// The JSON names are what `idp keys list --json` and the admin API print.
type Key struct {
	// KID is the RFC 7638 SHA-256 thumbprint of the public key, base64url.
	KID string `json:"kid"`
	// Alg is RS256 or ES256.
	Alg string `json:"alg"`
	// State is StateNext, StateActive, StateRetired or StateRevoked.
	State string `json:"state"`
	// CreatedAt is when the key was generated and, for a next key, published.
	CreatedAt time.Time `json:"created_at"`
	// ActivatedAt is when the key started signing; nil for a next key.
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	// RetiredAt is when the key stopped signing; nil while it signs.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// NotAfter is when a retired key leaves the JWKS (its last token has
	// expired), or when a revoked key was revoked.
	NotAfter *time.Time `json:"not_after,omitempty"`
	// SignsFrom is the earliest time the key may sign: for a key published
	// as next, when every relying service that cached the JWKS has it.
	SignsFrom *time.Time `json:"signs_from,omitempty"`
	// SignedUntil is the latest expiry of any token the key signed (an
	// upper bound written before such a token is issued); nil if it has
	// signed nothing.
	SignedUntil *time.Time `json:"signed_until,omitempty"`
	// HasPrivate reports whether the sealed private part is still stored;
	// it is destroyed on retirement and revocation.
	HasPrivate bool `json:"has_private"`
}

// key converts a row to its public description.
func (r *row) key() Key {
	return Key{
		KID: r.KID, Alg: r.Alg, State: r.State, CreatedAt: r.CreatedAt,
		ActivatedAt: r.ActivatedAt, RetiredAt: r.RetiredAt, NotAfter: r.NotAfter,
		SignsFrom: r.SignsFrom, SignedUntil: r.SignedUntil, HasPrivate: r.PrivateEnc != nil,
	}
}

// Manager owns the signing keys of one process. It is safe for concurrent
// use: readers take an immutable snapshot through an atomic pointer, so
// Sign, Verify and JWKS never lock while the cache is fresh.
type Manager struct {
	store *store
	seal  *sealer
	opts  Options
	log   *slog.Logger

	snap    atomic.Pointer[snapshot]
	gen     atomic.Uint64 // bumped by invalidate; a snapshot of an older gen is stale
	loading chan struct{} // one-slot semaphore: at most one reload at a time
	jwks    atomic.Pointer[jwksCache]

	// self is this process's recorded serving policy (Register); nil for
	// admin commands and unregistered managers.
	self atomic.Pointer[Policy]
	// lastBeat is when beat last refreshed self; only Run's goroutine
	// touches it after Register.
	lastBeat time.Time
	// chunk is how far past the current need signed_until is pushed, so a
	// busy key costs one write per chunk, not one per token.
	chunk time.Duration

	// beforeRotateTx, when set by a test, runs after Rotate has read the
	// state and generated its key, just before the transaction, so a race
	// can be staged deterministically.
	beforeRotateTx func()
}

// newManager builds a Manager over s; NewManager (store.go) wraps it.
func newManager(s *store, mk MasterKey, o Options) *Manager {
	o = o.withDefaults()
	return &Manager{
		store:   s,
		seal:    mustSealer(mk),
		opts:    o,
		log:     o.Logger,
		loading: make(chan struct{}, 1),
		chunk:   min(time.Minute, max(time.Second, o.TokenTTL/4)),
	}
}

// now is the injected clock in UTC, truncated to microseconds so a time
// survives a PostgreSQL round trip unchanged.
func (m *Manager) now() time.Time {
	return m.opts.Now().UTC().Truncate(time.Microsecond)
}

// Bootstrap makes sure every algorithm has an active and a next key, then
// loads and decrypts all of them. It first decrypts what is already stored,
// so a wrong master key fails with ErrWrongMasterKey before anything is
// written under it. Safe to run from several processes at once, and a
// second call changes nothing. Run it at startup, never lazily on a request.
func (m *Manager) Bootstrap(ctx context.Context) error {
	m.invalidate()
	if _, err := m.current(ctx); err != nil {
		return fmt.Errorf("bootstrap keys: %w", err)
	}
	for _, alg := range Algs {
		if err := m.ensure(ctx, alg); err != nil {
			return fmt.Errorf("bootstrap keys: %w", err)
		}
	}
	// Another process may have made the keys since the load above (ensure
	// then finds them and has nothing to write): read them afresh.
	m.invalidate()
	if err := m.Ready(ctx); err != nil {
		return fmt.Errorf("bootstrap keys: %w", err)
	}
	return nil
}

// List returns every key, revoked ones included, newest first.
func (m *Manager) List(ctx context.Context) ([]Key, error) {
	ks, err := m.store.all(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ks, func(a, b Key) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	})
	return ks, nil
}

// Ready reports whether every algorithm has an active key that can sign,
// per the cached state (reloaded if older than CacheTTL); /readyz uses it.
func (m *Manager) Ready(ctx context.Context) error {
	s, err := m.current(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for _, alg := range Algs {
		if e := s.active[alg]; e == nil || e.private == nil {
			missing = append(missing, alg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no active signing key for %s", strings.Join(missing, ", "))
	}
	return nil
}

// event reports a key event to OnEvent, if any.
func (m *Manager) event(ctx context.Context, action, kid, detail string) {
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(ctx, action, kid, detail)
	}
}
