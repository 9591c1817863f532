package keys

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRotateTransitions(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	published := e.clock.Now()
	before := byState(mustList(t, m))

	_, err := m.Rotate(ctx, RS256, false)
	var early *TooEarlyError
	if !errors.As(err, &early) {
		t.Fatalf("Rotate right after bootstrap: %v, want *TooEarlyError", err)
	}
	if early.Alg != RS256 || !early.SafeAt.Equal(published.Add(MaxCacheTTL+e.opts.JWKSMaxAge)) || !early.PublishedAt.Equal(published) {
		t.Fatalf("TooEarlyError = %+v", early)
	}
	if msg := err.Error(); !strings.Contains(msg, "the next RS256 key was published at 2030-01-02T03:04:05Z") ||
		!strings.Contains(msg, "rotating before 2030-01-02T03:09:10Z could break relying services") ||
		!strings.Contains(msg, "retry then or force") {
		t.Fatalf("message: %s", msg)
	}
	e.clock.Advance(MaxCacheTTL + e.opts.JWKSMaxAge - time.Second)
	if _, err := m.Rotate(ctx, RS256, false); !errors.As(err, &early) {
		t.Fatalf("Rotate 1s before SafeAt: %v, want *TooEarlyError", err)
	}

	e.clock.Advance(time.Second)
	now := e.clock.Now()
	rot, err := m.Rotate(ctx, RS256, false)
	if err != nil {
		t.Fatalf("Rotate at SafeAt: %v", err)
	}
	oldActive, oldNext := before[[2]string{RS256, StateActive}], before[[2]string{RS256, StateNext}]
	if rot.Retired.KID != oldActive.KID || rot.Activated.KID != oldNext.KID ||
		rot.Next.KID == "" || rot.Next.KID == oldNext.KID || rot.Next.KID == oldActive.KID {
		t.Fatalf("rotation %+v from active %s next %s", rot, oldActive.KID, oldNext.KID)
	}

	after := mustList(t, m)
	st := byState(after)
	ret, act, next := st[[2]string{RS256, StateRetired}], st[[2]string{RS256, StateActive}], st[[2]string{RS256, StateNext}]
	// The retired key signed nothing: it leaves once the skew margin is over.
	wantNotAfter := now.Add(DefaultClockSkew)
	switch {
	case ret.KID != oldActive.KID || ret.HasPrivate || ret.RetiredAt == nil || !ret.RetiredAt.Equal(now):
		t.Fatalf("retired: %+v", ret)
	case ret.NotAfter == nil || !ret.NotAfter.Equal(wantNotAfter):
		t.Fatalf("retired not_after %v, want %v", ret.NotAfter, wantNotAfter)
	case act.KID != oldNext.KID || !act.HasPrivate || act.ActivatedAt == nil || !act.ActivatedAt.Equal(now):
		t.Fatalf("active: %+v", act)
	case next.KID != rot.Next.KID || !next.HasPrivate || !next.CreatedAt.Equal(now) || next.ActivatedAt != nil:
		t.Fatalf("next: %+v", next)
	case rot.Retired.NotAfter == nil || !rot.Retired.NotAfter.Equal(wantNotAfter) || rot.Activated.State != StateActive:
		t.Fatalf("returned rotation: %+v", rot)
	}
	if c := countStates(after, ES256); c[StateActive] != 1 || c[StateNext] != 1 || len(c) != 2 {
		t.Fatalf("ES256 touched by an RS256 rotation: %v", c)
	}
	if before[[2]string{ES256, StateActive}].KID != st[[2]string{ES256, StateActive}].KID {
		t.Fatal("ES256 active key changed")
	}

	// The fresh next key is too young again, unless forced.
	if _, err := m.Rotate(ctx, RS256, false); !errors.As(err, &early) {
		t.Fatalf("second rotation: %v, want *TooEarlyError", err)
	}
	if _, err := m.Rotate(ctx, RS256, true); err != nil {
		t.Fatalf("forced rotation: %v", err)
	}
	if c := countStates(mustList(t, m), RS256); c[StateRetired] != 2 || c[StateActive] != 1 || c[StateNext] != 1 {
		t.Fatalf("after forced rotation: %v", c)
	}
	if _, err := m.Rotate(ctx, "HS256", true); err == nil {
		t.Fatal("Rotate of an unknown alg succeeded")
	}
}

// TestRotateRace stages two replicas that both read the state and generate
// their key before either transaction starts: exactly one may win.
func TestRotateRace(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "scheduled", true: "forced"}[force], func(t *testing.T) {
			e := newEnv(t)
			e.bootstrapped()
			e.clock.Advance(MaxCacheTTL + e.opts.JWKSMaxAge)
			var barrier sync.WaitGroup
			barrier.Add(2)
			ms := []*Manager{e.manager(), e.manager()}
			errs := make([]error, len(ms))
			var wg sync.WaitGroup
			for i, m := range ms {
				m.beforeRotateTx = func() { barrier.Done(); barrier.Wait() }
				wg.Go(func() { _, errs[i] = m.Rotate(context.Background(), ES256, force) })
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, ErrAlreadyRotated):
					t.Fatalf("loser: %v, want ErrAlreadyRotated", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d rotations succeeded, want exactly 1: %v", wins, errs)
			}
			if c := countStates(mustList(t, ms[0]), ES256); c[StateRetired] != 1 || c[StateActive] != 1 || c[StateNext] != 1 {
				t.Fatalf("states after race: %v", c)
			}
		})
	}
}

// TestRotateRaceUnstaged lets several replicas rotate with no choreography:
// the winner's fresh next key makes late readers TooEarly, early readers lose
// the compare-and-swap.
func TestRotateRaceUnstaged(t *testing.T) {
	e := newEnv(t)
	e.bootstrapped()
	e.clock.Advance(MaxCacheTTL + e.opts.JWKSMaxAge)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		m := e.manager()
		wg.Go(func() { _, errs[i] = m.Rotate(context.Background(), RS256, false) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		var early *TooEarlyError
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrAlreadyRotated) && !errors.As(err, &early):
			t.Fatalf("loser: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d rotations succeeded, want exactly 1: %v", wins, errs)
	}
}

func TestTickRotatesAfterInterval(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	activeKID := func() string { return byState(mustList(t, m))[[2]string{RS256, StateActive}].KID }
	first := activeKID()

	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.opts.RotationInterval - time.Second)
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := activeKID(); got != first {
		t.Fatal("Tick rotated before RotationInterval")
	}
	if n := len(mustList(t, m)); n != 4 {
		t.Fatalf("Tick before the interval changed the key count to %d", n)
	}

	e.clock.Advance(time.Second)
	// Two replicas tick at the same moment: one rotation per alg, no error.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		r := e.manager()
		wg.Go(func() { errs[i] = r.Tick(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Tick: %v", err)
	}
	if got := activeKID(); got == first {
		t.Fatal("Tick did not rotate after RotationInterval")
	}
	ks := mustList(t, m)
	for _, alg := range Algs {
		if c := countStates(ks, alg); c[StateRetired] != 1 || c[StateActive] != 1 || c[StateNext] != 1 {
			t.Fatalf("%s after tick: %v", alg, c)
		}
	}
	// Right after a rotation the new active key is young: no-op.
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(mustList(t, m)); n != 6 {
		t.Fatalf("second Tick changed the key count to %d, want 6", n)
	}
}

func TestTickDisabledRotation(t *testing.T) {
	e := newEnv(t)
	e.opts.RotationInterval = 0
	m := e.bootstrapped()
	e.clock.Advance(10 * DefaultRotationInterval)
	if err := m.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(mustList(t, m)); n != 4 {
		t.Fatalf("Tick with rotation disabled changed the key count to %d", n)
	}
}

func TestTickSelfHeals(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	st := byState(mustList(t, m))
	next := st[[2]string{ES256, StateNext}].KID
	active := st[[2]string{ES256, StateActive}].KID

	// A missing next key is recreated.
	if err := e.db.Gorm.Exec("DELETE FROM signing_keys WHERE kid = ?", next).Error; err != nil {
		t.Fatal(err)
	}
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	st = byState(mustList(t, m))
	newNext := st[[2]string{ES256, StateNext}].KID
	if newNext == "" || newNext == next || st[[2]string{ES256, StateActive}].KID != active {
		t.Fatalf("after deleting next: %+v", st)
	}

	// A missing active key is replaced by the already published next key.
	if err := e.db.Gorm.Exec("DELETE FROM signing_keys WHERE kid = ?", active).Error; err != nil {
		t.Fatal(err)
	}
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	st = byState(mustList(t, m))
	if st[[2]string{ES256, StateActive}].KID != newNext || st[[2]string{ES256, StateNext}].KID == "" {
		t.Fatalf("after deleting active: %+v", st)
	}
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("Ready after self-heal: %v", err)
	}
	if _, err := m.Sign(ctx, ES256, []byte("{}"), "JWT"); err != nil {
		t.Fatalf("Sign after self-heal: %v", err)
	}
}
