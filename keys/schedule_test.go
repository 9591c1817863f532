package keys

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// serving returns a registered Manager with the env's options and maxAge,
// as `idp serve --jwks-max-age maxAge` has after start.
func (e *env) serving(maxAge time.Duration) *Manager {
	e.t.Helper()
	m := e.registered(maxAge)
	if err := m.Bootstrap(context.Background()); err != nil {
		e.t.Fatalf("Bootstrap: %v", err)
	}
	return m
}

// registered is serving before Bootstrap.
func (e *env) registered(maxAge time.Duration) *Manager {
	e.t.Helper()
	o := e.opts
	o.JWKSMaxAge = maxAge
	m := NewManager(e.db.Gorm, e.mk, o)
	if _, err := m.Register(context.Background(), "test", 1); err != nil {
		e.t.Fatalf("Register: %v", err)
	}
	return m
}

// admin returns the Manager of an admin command: no schedule of its own.
func (e *env) admin() *Manager {
	o := e.opts
	o.Admin, o.JWKSMaxAge, o.TokenTTL, o.RotationInterval = true, 0, 0, 0
	return NewManager(e.db.Gorm, e.mk, o)
}

// nextOf returns alg's next key as stored.
func nextOf(t *testing.T, m *Manager, alg string) Key {
	t.Helper()
	k, ok := byState(mustList(t, m))[[2]string{alg, StateNext}]
	if !ok || k.SignsFrom == nil {
		t.Fatalf("no %s next key with signs_from: %+v", alg, k)
	}
	return k
}

// An admin command judges from the times the running server stored: with
// the server at 2 s the bootstrap keys may sign 2 s + its 1 s key cache
// after they were published, whatever the command's own defaults; a key the
// command publishes waits for the running server's max-age too.
func TestAdminJudgesByTheRunningServer(t *testing.T) {
	e := newEnv(t)
	srv := e.serving(2 * time.Second)
	cli := e.admin()
	ctx := context.Background()
	published := e.clock.Now()
	if n := nextOf(t, srv, RS256); !n.SignsFrom.Equal(published.Add(3 * time.Second)) {
		t.Fatalf("signs_from %v, want published + 1s cache + 2s max-age = %v", n.SignsFrom, published.Add(3*time.Second))
	}
	e.clock.Advance(3*time.Second - time.Millisecond)
	var early *TooEarlyError
	if _, err := cli.Rotate(ctx, RS256, false); !errors.As(err, &early) || !early.SafeAt.Equal(published.Add(3*time.Second)) {
		t.Fatalf("admin rotate 1ms early: %v", err)
	}
	e.clock.Advance(time.Millisecond)
	rot, err := cli.Rotate(ctx, RS256, false)
	if err != nil {
		t.Fatalf("admin rotate at signs_from: %v", err)
	}
	if want := e.clock.Now().Add(time.Second + 2*time.Second); !rot.Next.SignsFrom.Equal(want) {
		t.Fatalf("next key published by the admin command signs from %v, want now + server's cache + max-age %v",
			rot.Next.SignsFrom, want)
	}
	// The server's own scheduler agrees: the stored time, not a flag.
	if got, err := srv.SafeAt(ctx, RS256); err != nil || !got.Equal(*rot.Next.SignsFrom) {
		t.Fatalf("server SafeAt %v, %v; want %v", got, err, rot.Next.SignsFrom)
	}
}

// With the server at 1 h an admin command 10 minutes later is refused with
// the stored time, although its own defaults would allow it.
func TestAdminRefusedUntilALongMaxAge(t *testing.T) {
	e := newEnv(t)
	e.serving(time.Hour)
	cli := e.admin()
	published := e.clock.Now()
	e.clock.Advance(10 * time.Minute)
	_, err := cli.Rotate(context.Background(), ES256, false)
	var early *TooEarlyError
	want := published.Add(time.Hour + MaxCacheTTL)
	if !errors.As(err, &early) || !early.SafeAt.Equal(want) || !strings.Contains(err.Error(), want.Format(time.RFC3339)) {
		t.Fatalf("admin rotate after 10 min: %v, want refusal until %v", err, want)
	}
}

// An admin command on a database no server ever recorded a policy in (an
// earlier version served it, or none did) waits the contract's default.
func TestAdminWithoutPolicyWaitsTheDefault(t *testing.T) {
	e := newEnv(t)
	cli := e.admin()
	ctx := context.Background()
	if err := cli.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if n := nextOf(t, cli, ES256); !n.SignsFrom.Equal(e.clock.Now().Add(MaxCacheTTL + DefaultJWKSMaxAge)) {
		t.Fatalf("signs_from %v without any policy", n.SignsFrom)
	}
}

// Two replicas serving 5 s and 60 s: whichever publishes, a next key waits
// for the longer max-age (plus its cache lifetime), and no token is signed
// by a key published less than that long before.
func TestReplicasWithDifferentMaxAges(t *testing.T) {
	e := newEnv(t)
	// An interval far below the longer max-age: only the stored signing
	// times keep rotations apart.
	e.opts.RotationInterval = 20 * time.Second
	short, long := e.registered(5*time.Second), e.registered(60*time.Second)
	ctx := context.Background()
	for _, m := range []*Manager{long, short} {
		if err := m.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	longWait := 60*time.Second + CacheTTLFor(60*time.Second)
	published := map[string]time.Time{}
	for _, k := range mustList(t, short) {
		published[k.KID] = k.CreatedAt
	}
	bootKIDs := map[string]bool{}
	for _, k := range mustList(t, short) {
		if k.State == StateActive {
			bootKIDs[k.KID] = true // signed from the first start: no relying service had a JWKS yet
		}
	}
	rotations := 0
	for step := 0; step < 240; step++ { // 8 minutes in 2 s steps
		e.clock.Advance(2 * time.Second)
		for i, m := range []*Manager{short, long} {
			if step%2 == i { // the replicas take turns to tick first
				if err := m.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.beat(ctx); err != nil { // as Run does: both stay live
				t.Fatal(err)
			}
			for _, alg := range Algs {
				tok, err := m.Sign(ctx, alg, []byte(`{}`), "JWT")
				if err != nil {
					t.Fatal(err)
				}
				kid, _ := headerKID(tok)
				if bootKIDs[kid] {
					continue
				}
				at, ok := published[kid]
				if !ok {
					for _, k := range mustList(t, m) {
						published[k.KID] = k.CreatedAt
					}
					at = published[kid]
				}
				if age := e.clock.Now().Sub(at); age < longWait {
					t.Fatalf("step %d: %s signed by %s, published %v ago: less than the longer max-age + cache %v",
						step, alg, kid, age, longWait)
				}
			}
		}
		for _, k := range mustList(t, short) {
			if _, ok := published[k.KID]; !ok {
				published[k.KID] = k.CreatedAt
				if k.State == StateNext && k.CreatedAt.After(e.clock.Now().Add(-3*time.Second)) {
					rotations++
				}
			}
		}
	}
	if rotations < 6 {
		t.Fatalf("%d rotations in 8 minutes, want at least 6 (one per %v)", rotations, longWait)
	}
}

// A replica that serves a longer max-age than a key's publisher counted
// raises the key's signing time; one with a shorter max-age never lowers it.
func TestReplicaRaisesNextKey(t *testing.T) {
	e := newEnv(t)
	short := e.serving(5 * time.Second)
	e.clock.Advance(time.Second)
	long := e.serving(90 * time.Second) // registered after the bootstrap keys: it always published them
	ctx := context.Background()
	before := nextOf(t, long, ES256)
	if err := long.beat(ctx); err != nil {
		t.Fatal(err)
	}
	if got := nextOf(t, long, ES256); !got.SignsFrom.Equal(*before.SignsFrom) {
		t.Fatalf("a key older than the replica was raised: %v -> %v", before.SignsFrom, got.SignsFrom)
	}

	// A key published after the long replica registered but timed as if
	// only the short one ran (a publisher of an earlier version): its beat
	// raises it to created + its cache + 90 s.
	rot, err := short.Rotate(ctx, ES256, true)
	if err != nil {
		t.Fatal(err)
	}
	low := rot.Next.CreatedAt.Add(10 * time.Second) // above what the short replica needs, below the long one
	if err := e.db.Gorm.Exec("UPDATE signing_keys SET signs_from = ? WHERE kid = ?", low, rot.Next.KID).Error; err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(heartbeat)
	if err := short.beat(ctx); err != nil {
		t.Fatal(err)
	}
	if got := nextOf(t, short, ES256); !got.SignsFrom.Equal(low) {
		t.Fatalf("the short replica changed signs_from to %v", got.SignsFrom)
	}
	if err := long.beat(ctx); err != nil {
		t.Fatal(err)
	}
	want := rot.Next.CreatedAt.Add(CacheTTLFor(90*time.Second) + 90*time.Second)
	if got := nextOf(t, short, ES256); !got.SignsFrom.Equal(want) {
		t.Fatalf("after the long replica's beat signs_from = %v, want %v", got.SignsFrom, want)
	}
	// Both replicas now refuse until then.
	var early *TooEarlyError
	e.clock.Advance(time.Minute)
	if _, err := short.Rotate(ctx, ES256, false); !errors.As(err, &early) || !early.SafeAt.Equal(want) {
		t.Fatalf("short replica rotating before the raised time: %v", err)
	}
}

// A key retired while 1-hour tokens were being signed stays published
// until they expire, even once every process runs with 5-minute tokens:
// the leaving time comes from what the key signed, not from the settings
// of whoever retires it or serves it later.
func TestRetiredKeyOutlivesATokenTTLChange(t *testing.T) {
	for _, retireAfterRestart := range []bool{false, true} {
		name := map[bool]string{false: "retired before the restart", true: "retired after the restart"}[retireAfterRestart]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.opts.TokenTTL = time.Hour
			old := e.serving(5 * time.Minute)
			tok, err := old.Sign(ctx, RS256, []byte(`{}`), "JWT")
			if err != nil {
				t.Fatal(err)
			}
			kid, _ := headerKID(tok)
			signedAt := e.clock.Now()
			e.clock.Advance(10 * time.Minute)
			if !retireAfterRestart {
				if _, err := old.Rotate(ctx, RS256, false); err != nil {
					t.Fatal(err)
				}
			}
			e.opts.TokenTTL = 5 * time.Minute // the restart with --access-token-ttl 5m
			if err := old.Deregister(ctx); err != nil {
				t.Fatal(err)
			}
			restarted := e.serving(5 * time.Minute)
			if retireAfterRestart {
				if _, err := restarted.Rotate(ctx, RS256, false); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Advance(signedAt.Add(time.Hour).Sub(e.clock.Now()) - time.Second)
			if _, _, err := restarted.Verify(ctx, tok); err != nil {
				t.Fatalf("a 1-hour token 1 s before it expires: %v", err)
			}
			if !jwksHas(t, restarted, kid) {
				t.Fatal("the key left the JWKS before its 1-hour token expired")
			}
			k := byKID(t, restarted, kid)
			e.clock.Advance(k.NotAfter.Sub(e.clock.Now()))
			if jwksHas(t, restarted, kid) {
				t.Fatalf("the key is still published at its not_after %v", k.NotAfter)
			}
			if late := k.NotAfter.Sub(signedAt.Add(time.Hour)); late > time.Minute+restarted.chunk*4 {
				t.Fatalf("published %v past its last token's expiry", late)
			}
		})
	}
}

// byKID returns one stored key.
func byKID(t *testing.T, m *Manager, kid string) Key {
	t.Helper()
	for _, k := range mustList(t, m) {
		if k.KID == kid {
			return k
		}
	}
	t.Fatalf("no key %s", kid)
	return Key{}
}

// jwksHas reports whether m's JWKS publishes kid now.
func jwksHas(t *testing.T, m *Manager, kid string) bool {
	t.Helper()
	for _, k := range jwksKids(t, mustJWKS(t, m)) {
		if k == kid {
			return true
		}
	}
	return false
}

// A replica whose cached state still names a key another process retired
// signs with it only within the signed_until already recorded (which the
// retirement counted); when it needs more, it finds the key retired,
// reloads and signs with the new active key.
func TestStaleReplicaSwitchesKeysWhenItsCoverageEnds(t *testing.T) {
	e := newEnv(t)
	e.opts.TokenTTL = 4 * time.Second // chunk 1 s
	e.opts.CacheTTL = MaxCacheTTL
	a, b := e.serving(2*time.Second), e.serving(2*time.Second)
	ctx := context.Background()
	tok, err := a.Sign(ctx, ES256, []byte(`{}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	oldKID, _ := headerKID(tok)
	e.clock.Advance(MaxCacheTTL + 2*time.Second)
	if _, err := a.Sign(ctx, ES256, []byte(`{}`), "JWT"); err != nil { // a's cache is fresh again from here
		t.Fatal(err)
	}
	rot, err := b.Rotate(ctx, ES256, false)
	if err != nil {
		t.Fatal(err)
	}
	// Within the chunk a writes nothing and still uses its cached key.
	tok, err = a.Sign(ctx, ES256, []byte(`{}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := headerKID(tok); kid != oldKID {
		t.Fatalf("signed by %s, want the cached %s", kid, oldKID)
	}
	if exp := e.clock.Now().Add(4 * time.Second); rot.Retired.NotAfter.Before(exp) {
		t.Fatalf("retired key leaves at %v, before a token it may still sign expires (%v)", rot.Retired.NotAfter, exp)
	}
	e.clock.Advance(1500 * time.Millisecond)
	tok, err = a.Sign(ctx, ES256, []byte(`{}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := headerKID(tok); kid != rot.Activated.KID {
		t.Fatalf("past its coverage the stale replica signed with %s, want the new active %s", kid, rot.Activated.KID)
	}
	if got := byKID(t, a, oldKID); got.SignedUntil == nil || got.NotAfter.Before(*got.SignedUntil) {
		t.Fatalf("retired key %+v: signed_until moved past not_after", got)
	}
}

// Many goroutines signing at once all get tokens covered by signed_until.
func TestConcurrentSignersShareOneCoverage(t *testing.T) {
	e := newEnv(t)
	m := e.serving(5 * time.Minute)
	ctx := context.Background()
	errs := make(chan error, 32)
	for range 32 {
		go func() {
			_, err := m.Sign(ctx, RS256, []byte(`{}`), "JWT")
			errs <- err
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	active := byState(mustList(t, m))[[2]string{RS256, StateActive}]
	want := e.clock.Now().Add(e.opts.TokenTTL + m.chunk)
	if active.SignedUntil == nil || !active.SignedUntil.Equal(want) {
		t.Fatalf("signed_until %v, want now + TokenTTL + one chunk %v", active.SignedUntil, want)
	}
}

// NextDue is the earlier of each alg's due rotation (interval after
// activation, never before the next key may sign) and a retired key's
// leaving time.
func TestNextDue(t *testing.T) {
	e := newEnv(t)
	e.opts.RotationInterval = time.Hour
	m := e.serving(2 * time.Second)
	ctx := context.Background()
	start := e.clock.Now()
	if at, err := m.NextDue(ctx); err != nil || !at.Equal(start.Add(time.Hour)) {
		t.Fatalf("NextDue %v, %v; want %v", at, err, start.Add(time.Hour))
	}
	e.clock.Advance(10 * time.Second)
	rot, err := m.Rotate(ctx, ES256, false)
	if err != nil {
		t.Fatal(err)
	}
	if at, err := m.NextDue(ctx); err != nil || !at.Equal(*rot.Retired.NotAfter) {
		t.Fatalf("NextDue %v, %v; want the retired key's not_after %v", at, err, rot.Retired.NotAfter)
	}
	e.clock.Advance(rot.Retired.NotAfter.Sub(e.clock.Now()))
	if at, err := m.NextDue(ctx); err != nil || !at.Equal(start.Add(time.Hour)) {
		t.Fatalf("NextDue after the retired key left: %v, %v; want RS256's rotation %v", at, err, start.Add(time.Hour))
	}
	// Step wakes at the due moment when it is nearer than CacheTTL, else
	// after CacheTTL to see what other processes changed.
	if wake, err := m.Step(ctx); err != nil || !wake.Equal(e.clock.Now().Add(m.opts.CacheTTL)) {
		t.Fatalf("Step wakes at %v, %v; want CacheTTL ahead", wake, err)
	}
	e.clock.Advance(start.Add(time.Hour).Sub(e.clock.Now()) - 300*time.Millisecond)
	if wake, err := m.Step(ctx); err != nil || !wake.Equal(start.Add(time.Hour)) {
		t.Fatalf("Step 300 ms before a rotation wakes at %v, %v; want %v", wake, err, start.Add(time.Hour))
	}
	// With scheduled rotation off only retired keys are due.
	e.opts.RotationInterval = 0
	if at, err := e.manager().NextDue(ctx); err != nil || !at.IsZero() {
		t.Fatalf("NextDue without rotation: %v, %v", at, err)
	}
}

// Run rotates when due on the real clock and stops with its context.
func TestRunRotatesOnTime(t *testing.T) {
	e := newEnv(t)
	e.opts.Now = nil // the real clock: Run sleeps on real timers
	e.opts.RotationInterval = 1500 * time.Millisecond
	e.opts.TokenTTL = time.Second
	m := e.serving(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	first := byState(mustList(t, m))[[2]string{ES256, StateActive}].KID
	deadline := time.Now().Add(20 * time.Second)
	for byState(mustList(t, m))[[2]string{ES256, StateActive}].KID == first {
		if time.Now().After(deadline) {
			t.Fatal("no rotation within 20 s at a 1.5 s interval")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// Policies: liveness, JSON for scripts, and the disagreement warning.
func TestPolicies(t *testing.T) {
	e := newEnv(t)
	a := e.serving(5 * time.Minute)
	e.opts.TokenTTL = time.Hour
	e.serving(time.Minute)
	ctx := context.Background()
	ps, err := a.Policies(ctx)
	if err != nil || len(ps) != 2 {
		t.Fatalf("Policies: %v, %v", ps, err)
	}
	// Both started at the same instant: put a's first.
	if ps[0].JWKSMaxAge != 5*time.Minute {
		ps[0], ps[1] = ps[1], ps[0]
	}
	now := e.clock.Now()
	if !ps[0].Live(now) || ps[0].JWKSMaxAge != 5*time.Minute || ps[0].CacheTTL != 5*time.Second || ps[0].Host != "test" {
		t.Fatalf("first policy %+v", ps[0])
	}
	w := Disagreement(ps, now)
	if !strings.Contains(w, "jwks-max-age 5m0s") || !strings.Contains(w, "1m0s") {
		t.Fatalf("disagreement: %q", w)
	}
	raw, err := json.Marshal(ps[1])
	if err != nil || !strings.Contains(string(raw), `"jwks_max_age_seconds":60`) ||
		!strings.Contains(string(raw), `"access_token_ttl_seconds":3600`) {
		t.Fatalf("policy JSON %s, %v", raw, err)
	}
	// A stopped process is not live, and no longer counted in the warning.
	if err := a.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	ps, _ = a.Policies(ctx)
	if ps[0].JWKSMaxAge != 5*time.Minute {
		ps[0], ps[1] = ps[1], ps[0]
	}
	if ps[0].Live(now) || Disagreement(ps, now) != "" {
		t.Fatalf("after Deregister: %+v, %q", ps[0], Disagreement(ps, now))
	}
	// One not seen for three heartbeats is gone too.
	if !ps[1].Live(now.Add(3*heartbeat)) || ps[1].Live(now.Add(3*heartbeat+time.Second)) {
		t.Fatal("liveness window is not three heartbeats")
	}
}

// A process that stopped still holds keys back until the JWKS it served
// has left relying services' caches, and no longer after that.
func TestStoppedReplicaHoldsKeysUntilItsJWKSExpires(t *testing.T) {
	e := newEnv(t)
	short, long := e.registered(5*time.Second), e.registered(60*time.Second)
	ctx := context.Background()
	if err := short.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := e.clock.Now()
	if err := long.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Second)
	rot, err := short.Rotate(ctx, RS256, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := stopped.Add(60 * time.Second); !rot.Next.SignsFrom.Equal(want) {
		t.Fatalf("next key signs from %v, want when the stopped replica's JWKS leaves caches (%v)", rot.Next.SignsFrom, want)
	}
	e.clock.Advance(time.Minute)
	rot, err = short.Rotate(ctx, RS256, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clock.Now().Add(CacheTTLFor(5*time.Second) + 5*time.Second); !rot.Next.SignsFrom.Equal(want) {
		t.Fatalf("next key signs from %v, want only the running replica's wait (%v)", rot.Next.SignsFrom, want)
	}
}
