package throttle

import (
	"context"
	"testing"
	"time"
)

// Unlock clears one account's counters from every address, nothing else:
// not another account (even one whose email a LIKE pattern would match),
// not the address-wide counters.
func TestUnlock(t *testing.T) {
	th, _ := newThrottle(t)
	ctx := context.Background()
	for range 6 {
		for _, f := range [][2]string{{"a_b@example.com", "10.0.0.1"}, {"A_B@example.com", "10.0.0.2"}, {"axb@example.com", "10.0.0.3"}} {
			if _, err := th.Fail(ctx, f[0], f[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if w, _ := th.Check(ctx, "a_b@example.com", "10.0.0.1"); w == 0 {
		t.Fatal("six failures did not throttle the account")
	}
	n, err := th.Unlock(ctx, "a_b@example.com")
	if err != nil || n != 2 {
		t.Fatalf("Unlock = %d, %v; want the 2 counters of a_b@example.com", n, err)
	}
	for _, ip := range []string{"10.0.0.1", "10.0.0.2"} {
		if until, _ := th.store.lockedUntil(ctx, accountKey("a_b@example.com", ip)); !until.IsZero() {
			t.Errorf("account counter from %s survived Unlock", ip)
		}
		var n int64
		if err := th.store.g.Table("signin_failures").Where("key = ?", addressKey(ip)).Count(&n).Error; err != nil || n != 1 {
			t.Errorf("address counter of %s: %d rows, %v; Unlock must leave it", ip, n, err)
		}
	}
	if w, _ := th.Check(ctx, "axb@example.com", "10.0.0.3"); w == 0 {
		t.Error("unlocking a_b@ also unlocked axb@")
	}
	if n, err := th.Unlock(ctx, "nobody@example.com"); err != nil || n != 0 {
		t.Errorf("Unlock of an account with no failures = %d, %v", n, err)
	}
}

// Account sums one account's failures over every address and reports the
// longest wait in force; another account whose email a LIKE pattern would
// match is not counted, and an unlock clears the status.
func TestAccountStatus(t *testing.T) {
	th, clock := newThrottle(t)
	ctx := context.Background()
	if st, err := th.Account(ctx, "a_b@example.com"); err != nil || st.Failures != 0 || !st.LockedUntil.IsZero() {
		t.Fatalf("no failures yet: %+v, %v", st, err)
	}
	for range 3 {
		if _, err := th.Fail(ctx, "a_b@example.com", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := th.Fail(ctx, "axb@example.com", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	st, err := th.Account(ctx, "A_B@example.com")
	if err != nil || st.Failures != 3 || !st.LockedUntil.IsZero() {
		t.Fatalf("three free failures: %+v, %v", st, err)
	}
	for range 4 {
		if _, err := th.Fail(ctx, "a_b@example.com", "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := th.Fail(ctx, "a_b@example.com", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	st, err = th.Account(ctx, "a_b@example.com")
	if err != nil || st.Failures != 10 || !st.LockedUntil.After(clock.now()) {
		t.Fatalf("ten failures, six from one address: %+v, %v", st, err)
	}
	clock.add(time.Hour)
	if st, _ := th.Account(ctx, "a_b@example.com"); !st.LockedUntil.IsZero() {
		t.Errorf("the wait ended an hour ago but is reported: %+v", st)
	}
	if _, err := th.Unlock(ctx, "a_b@example.com"); err != nil {
		t.Fatal(err)
	}
	if st, _ := th.Account(ctx, "a_b@example.com"); st.Failures != 0 {
		t.Errorf("after unlock: %+v", st)
	}
}
