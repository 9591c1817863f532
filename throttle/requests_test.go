package throttle_test

import (
	"context"
	"testing"
	"time"

	"idp/db/dbtest"
	"idp/throttle"
)

func TestRequestLimitsPerSubjectAndPerAddress(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := throttle.New(throttle.NewStore(dbtest.Open(t).Gorm), throttle.Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	req := func(subject, ip string) time.Duration {
		t.Helper()
		w, err := th.Request(ctx, "reset", subject, ip, 2, 5)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	// Two in a burst per address, in any case; the second locks for 1 s.
	for i, s := range []string{"a@example.com", "A@example.com"} {
		if w := req(s, "10.0.0.1"); w != 0 {
			t.Fatalf("request %d refused: wait %s", i+1, w)
		}
	}
	if w := req("a@example.com", "10.0.0.2"); w != time.Second {
		t.Fatalf("third request for one address from another IP: wait %s, want 1s", w)
	}
	// Another address from the first IP still passes (IP budget 5: used 2).
	if w := req("b@example.com", "10.0.0.1"); w != 0 {
		t.Fatalf("other address refused: %s", w)
	}
	now = now.Add(time.Second)
	if w := req("a@example.com", "10.0.0.3"); w != 0 {
		t.Fatalf("after the lock ran out: wait %s", w)
	}
	if w := req("a@example.com", "10.0.0.3"); w != 2*time.Second {
		t.Fatalf("lock should double: %s", w)
	}
	// The IP budget: 10.0.0.1 has sent 3; the 4th and 5th pass, the 5th locks.
	req("c@example.com", "10.0.0.1")
	req("d@example.com", "10.0.0.1")
	if w := req("e@example.com", "10.0.0.1"); w != time.Second {
		t.Fatalf("IP over its budget: wait %s, want 1s", w)
	}
	// Sign-in failures are a different counter.
	if w, err := th.Check(ctx, "a@example.com", "10.0.0.1"); err != nil || w != 0 {
		t.Fatalf("reset requests touched the sign-in throttle: %s, %v", w, err)
	}
	// A window later everything is forgotten.
	now = now.Add(2 * time.Hour)
	if w := req("a@example.com", "10.0.0.1"); w != 0 {
		t.Fatalf("after the window: %s", w)
	}
}
