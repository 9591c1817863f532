package throttle_test

import (
	"context"
	"testing"
	"time"

	"idp/db/dbtest"
	"idp/throttle"
)

// TestGuessesThrottledApartFromSignIns: After wrong guesses are free, the
// next one locks the address; another address and the sign-in budget of
// the same address are untouched.
func TestGuessesThrottledApartFromSignIns(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := throttle.New(throttle.NewStore(dbtest.Open(t).Gorm), throttle.Config{After: 3, Now: func() time.Time { return now }})
	ctx := context.Background()
	for i := range 3 {
		if d, err := th.FailGuess(ctx, "device", "192.0.2.1"); err != nil || d != 0 {
			t.Fatalf("free failure %d: wait %v, %v", i, d, err)
		}
	}
	if d, err := th.FailGuess(ctx, "device", "192.0.2.1"); err != nil || d != time.Second {
		t.Fatalf("4th failure: wait %v, %v; want 1s", d, err)
	}
	if d, _ := th.CheckGuess(ctx, "device", "192.0.2.1"); d != time.Second {
		t.Fatalf("check after the lock: %v", d)
	}
	if d, _ := th.CheckGuess(ctx, "device", "192.0.2.2"); d != 0 {
		t.Fatalf("another address waits %v", d)
	}
	if d, _ := th.Check(ctx, "ada@example.com", "192.0.2.1"); d != 0 {
		t.Fatalf("the sign-in of the address waits %v", d)
	}
	now = now.Add(time.Second)
	if d, _ := th.CheckGuess(ctx, "device", "192.0.2.1"); d != 0 {
		t.Fatalf("still locked after the wait: %v", d)
	}
}
