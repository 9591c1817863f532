package keys

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventLog records OnEvent calls.
type eventLog struct {
	mu     sync.Mutex
	events []keyEvent
}

type keyEvent struct{ action, kid, detail string }

func (l *eventLog) record(_ context.Context, action, kid, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, keyEvent{action, kid, detail})
}

// of returns the recorded events with the given action.
func (l *eventLog) of(action string) []keyEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []keyEvent
	for _, ev := range l.events {
		if ev.action == action {
			out = append(out, ev)
		}
	}
	return out
}

// TestRotateSafetyRule is the publication rule through the package API: a
// next key may only sign once every replica has published it (CacheTTL)
// and every relying service's cached JWKS holds it (JWKSMaxAge). A shorter
// CacheTTL than the default shows that both terms count.
func TestRotateSafetyRule(t *testing.T) {
	e := newEnv(t)
	var log eventLog
	e.opts.OnEvent = log.record
	e.opts.CacheTTL = 2 * time.Second
	e.opts.JWKSMaxAge = 3 * time.Minute
	m := e.bootstrapped()
	ctx := context.Background()

	next := byState(mustList(t, m))[[2]string{ES256, StateNext}]
	wantSafe := next.CreatedAt.Add(2*time.Second + 3*time.Minute)
	if got, err := m.SafeAt(ctx, ES256); err != nil || !got.Equal(wantSafe) {
		t.Fatalf("SafeAt = %v, %v; want %v", got, err, wantSafe)
	}
	e.clock.Advance(time.Minute)
	for _, at := range []time.Duration{0, 2*time.Minute + 2*time.Second - time.Microsecond} {
		e.clock.Advance(at)
		_, err := m.Rotate(ctx, ES256, false)
		var early *TooEarlyError
		if !errors.As(err, &early) {
			t.Fatalf("Rotate %v before SafeAt: %v, want *TooEarlyError", wantSafe.Sub(e.clock.Now()), err)
		}
		if early.Alg != ES256 || !early.PublishedAt.Equal(next.CreatedAt) || !early.SafeAt.Equal(wantSafe) {
			t.Fatalf("TooEarlyError = %+v, want SafeAt %v = next.created + CacheTTL + JWKSMaxAge", early, wantSafe)
		}
	}
	if n := len(log.of("key.rotated")); n != 0 {
		t.Fatalf("%d key.rotated events for refused rotations", n)
	}
	if c := countStates(mustList(t, m), ES256); c[StateRetired] != 0 {
		t.Fatalf("a refused rotation changed the keys: %v", c)
	}

	// Forced: rotates now, and says so in the event (the audit log).
	rot, err := m.Rotate(ctx, ES256, true)
	if err != nil {
		t.Fatalf("forced rotation: %v", err)
	}
	ev := log.of("key.rotated")
	if len(ev) != 1 || ev[0].kid != rot.Activated.KID || !strings.HasSuffix(ev[0].detail, " forced") ||
		!strings.Contains(ev[0].detail, "retired="+rot.Retired.KID) {
		t.Fatalf("forced rotation events: %+v", ev)
	}
	if rot.Activated.KID != next.KID {
		t.Fatalf("forced rotation activated %s, want the published next key %s", rot.Activated.KID, next.KID)
	}

	// The fresh next key starts a new wait; at SafeAt exactly it may sign,
	// and that scheduled-safe rotation is not marked forced.
	_, err = m.Rotate(ctx, ES256, false)
	var early *TooEarlyError
	if !errors.As(err, &early) || !early.SafeAt.Equal(e.clock.Now().Add(2*time.Second+3*time.Minute)) {
		t.Fatalf("rotation right after a forced one: %v", err)
	}
	e.clock.Advance(2*time.Second + 3*time.Minute)
	if _, err := m.Rotate(ctx, ES256, false); err != nil {
		t.Fatalf("Rotate at SafeAt: %v", err)
	}
	ev = log.of("key.rotated")
	if len(ev) != 2 || strings.Contains(ev[1].detail, "forced") {
		t.Fatalf("unforced rotation events: %+v", ev)
	}
}
