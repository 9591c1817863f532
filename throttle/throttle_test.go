package throttle

import (
	"context"
	"sync"
	"testing"
	"time"

	"idp/db/dbtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newThrottle(t *testing.T) (*Throttle, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	return New(NewStore(dbtest.Open(t).Gorm), Config{After: 3, Lockout: time.Minute, Now: c.now}), c
}

func TestGrowingDelayAndLock(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	var waits []time.Duration
	for range 10 {
		w, err := th.Fail(ctx, "Ada@Example.com", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", waits, want)
		}
	}
	// The lock applies to the account from that address, whatever the case
	// of the email, and not from another address.
	if w, _ := th.Check(ctx, "ada@example.com", "10.0.0.1"); w != time.Minute {
		t.Errorf("locked wait = %v", w)
	}
	if w, _ := th.Check(ctx, "ada@example.com", "10.0.0.2"); w != 0 {
		t.Errorf("another address is throttled: %v", w)
	}
	c.add(time.Minute)
	if w, _ := th.Check(ctx, "ada@example.com", "10.0.0.1"); w != 0 {
		t.Errorf("still locked after the lockout: %v", w)
	}
}

func TestSuccessClearsAndWindowForgets(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	for range 3 {
		th.Fail(ctx, "a@x.io", "ip")
	}
	if err := th.Succeed(ctx, "a@x.io", "ip"); err != nil {
		t.Fatal(err)
	}
	if w, _ := th.Fail(ctx, "a@x.io", "ip"); w != 0 {
		t.Errorf("a success must forget earlier failures: wait %v", w)
	}
	for range 2 {
		th.Fail(ctx, "a@x.io", "ip")
	}
	c.add(2 * time.Hour) // beyond the window
	if w, _ := th.Fail(ctx, "a@x.io", "ip"); w != 0 {
		t.Errorf("old failures must be forgotten: wait %v", w)
	}
}

func TestAddressAcrossAccounts(t *testing.T) {
	th, _ := newThrottle(t)
	ctx := context.Background()
	var w time.Duration
	for i := range 13 { // 4×3 free for an address across accounts
		w, _ = th.Fail(ctx, string(rune('a'+i))+"@x.io", "203.0.113.9")
	}
	if w != time.Second {
		t.Fatalf("13th failure from one address across accounts: wait %v, want 1s", w)
	}
	if w, _ := th.Check(ctx, "new@x.io", "203.0.113.9"); w == 0 {
		t.Fatal("the address must be throttled for every account")
	}
}

func TestConcurrentFailuresAllCount(t *testing.T) {
	th, _ := newThrottle(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = th.Fail(ctx, "a@x.io", "ip") }()
	}
	wg.Wait()
	n, err := th.store.fail(ctx, accountKey("a@x.io", "ip"), th.cfg.Now(), th.cfg.Now().Add(-time.Hour))
	if err != nil || n != 21 {
		t.Fatalf("count after 20 concurrent failures + 1 = %d, %v", n, err)
	}
}

func TestPurgeDropsIdleCounters(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	for _, ip := range []string{"a", "b", "c"} {
		th.Fail(ctx, "x@y.io", ip)
	}
	if n, err := th.Purge(ctx, 10); err != nil || n != 0 {
		t.Fatalf("fresh counters purged: %d, %v", n, err)
	}
	c.add(2 * time.Hour) // past window + lockout
	n, err := th.Purge(ctx, 2)
	if err != nil || n != 2 {
		t.Fatalf("first batch of 2: %d, %v", n, err)
	}
	// Three account-and-address keys and three address keys: four remain.
	if n, err := th.Purge(ctx, 10); err != nil || n != 4 {
		t.Fatalf("second batch: %d, %v, want 4", n, err)
	}
	if w, _ := th.Check(ctx, "x@y.io", "a"); w != 0 {
		t.Fatalf("purged counter still throttles: %v", w)
	}
}
