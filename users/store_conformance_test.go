package users

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

// The conformance half of the Store tests (STYLE.md §1.2): what
// store_test.go leaves out, run on SQLite and, with IDP_TEST_POSTGRES, on
// PostgreSQL. Races use real goroutines released together.

// TestStoreConcurrentCreateSameEmail: many creations of one address, in
// varying case, race straight at the store; the unique index on
// lower(email) must let exactly one through and refuse the rest with
// db.ErrConflict, on either dialect.
func TestStoreConcurrentCreateSameEmail(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const n = 12
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		u := testUser(t, []string{"zoe@example.com", "ZOE@EXAMPLE.COM", "Zoe@Example.com"}[i%3])
		wg.Go(func() { <-start; errs[i] = s.Create(ctx, u) })
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, db.ErrConflict):
			t.Errorf("a loser got %v, want db.ErrConflict", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creations succeeded, want 1", won)
	}
	if c, err := s.Count(ctx); err != nil || c != 1 {
		t.Fatalf("Count = %d, %v; want 1", c, err)
	}
}

// TestStoreCreateRefuses: a taken id is a conflict like a taken email, and
// an empty id is refused before any write; neither leaves a row behind.
func TestStoreCreateRefuses(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	first := testUser(t, "first@example.com")
	if err := s.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	sameID := testUser(t, "second@example.com")
	sameID.ID = first.ID
	if err := s.Create(ctx, sameID); !errors.Is(err, db.ErrConflict) {
		t.Errorf("Create with a taken id: %v, want db.ErrConflict", err)
	}
	noID := testUser(t, "third@example.com")
	noID.ID = ""
	if err := s.Create(ctx, noID); err == nil || errors.Is(err, db.ErrConflict) {
		t.Errorf("Create with an empty id: %v, want a plain error", err)
	}
	if c, err := s.Count(ctx); err != nil || c != 1 {
		t.Fatalf("Count = %d, %v; want 1", c, err)
	}
	if got, err := s.ByID(ctx, first.ID); err != nil || got.Email != first.Email {
		t.Fatalf("the first user after the refusals: %+v, %v", got, err)
	}
}

// TestStoreTimesComeBackUTC: times given in another zone are stored as the
// same instant and read back in UTC, through every read path.
func TestStoreTimesComeBackUTC(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u := testUser(t, "zone@example.com")
	cest := time.FixedZone("CEST", 2*3600)
	u.CreatedAt = time.Date(2025, 7, 1, 9, 30, 0, 123000, cest)
	u.UpdatedAt = u.CreatedAt.Add(time.Hour)
	if err := s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	byID, err := s.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	byEmail, err := s.ByEmail(ctx, u.Email)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d users, %v", len(list), err)
	}
	for name, got := range map[string]*User{"ByID": byID, "ByEmail": byEmail, "List": &list[0]} {
		if !got.CreatedAt.Equal(u.CreatedAt) || !got.UpdatedAt.Equal(u.UpdatedAt) ||
			got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
			t.Errorf("%s: times %v / %v, want %v / %v in UTC", name, got.CreatedAt, got.UpdatedAt,
				u.CreatedAt.UTC(), u.UpdatedAt.UTC())
		}
	}
}

// TestStoreCreateZeroTimestamps: Create fills zero timestamps with the
// current time and copies them back, and what it copies back is what a
// later read returns.
func TestStoreCreateZeroTimestamps(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u := testUser(t, "zero@example.com")
	u.CreatedAt, u.UpdatedAt = time.Time{}, time.Time{}
	before := time.Now().Add(-time.Second)
	if err := s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u.CreatedAt.Before(before) || u.UpdatedAt.Before(before) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("copied back %v / %v, want now in UTC", u.CreatedAt, u.UpdatedAt)
	}
	got, err := s.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, u) {
		t.Fatalf("ByID = %+v\nwant   %+v", got, u)
	}
}

// TestStoreListEmptyAndRoles: an empty table lists as an empty slice, and
// roles keep their order; an empty (not nil) slice reads back empty.
func TestStoreListEmptyAndRoles(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if list, err := s.List(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("List of no users = %#v, %v; want an empty slice", list, err)
	}
	if c, err := s.Count(ctx); err != nil || c != 0 {
		t.Fatalf("Count = %d, %v; want 0", c, err)
	}
	for email, roles := range map[string][]string{"r1@example.com": {"z", "a", "m"}, "r2@example.com": {}} {
		u := testUser(t, email)
		u.Roles = roles
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := s.ByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Roles, roles) {
			t.Errorf("%s: roles %#v; want %#v", email, got.Roles, roles)
		}
	}
}

// TestStoreSetDisabledBothWays: the flag clears as well as sets, and only
// on the user named.
func TestStoreSetDisabledBothWays(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, b := testUser(t, "a@example.com"), testUser(t, "b@example.com")
	for _, u := range []*User{a, b} {
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []bool{true, false} {
		if err := s.SetDisabled(ctx, a.ID, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ByID(ctx, a.ID); err != nil || got.Disabled != want {
			t.Fatalf("after SetDisabled(%v): %+v, %v", want, got, err)
		}
	}
	if err := s.SetPasswordHash(ctx, a.ID, "reset"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByID(ctx, b.ID); err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("the other user changed: %+v, %v", got, err)
	}
}

// TestStoreSwapPasswordHashRace: concurrent rehashes from one old hash
// (two sign-ins upgrading at once) — exactly one swap lands, the others get
// db.ErrConflict, and the stored hash is the winner's. A vanished user is
// a conflict too, not a silent success.
func TestStoreSwapPasswordHashRace(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u := testUser(t, "swap@example.com")
	if err := s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	const n = 10
	errs := dbtest.Race(n, func(i int) error {
		return s.swapPasswordHash(ctx, u.ID, u.PasswordHash, fmt.Sprint("rehash-", i))
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("swaps %d and %d both succeeded", winner, i)
		case !errors.Is(err, db.ErrConflict):
			t.Errorf("swap %d: %v, want db.ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no swap succeeded")
	}
	got, err := s.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != fmt.Sprint("rehash-", winner) {
		t.Fatalf("stored hash %q; want the winner's rehash-%d", got.PasswordHash, winner)
	}
	if err := s.swapPasswordHash(ctx, "nobody", "x", "y"); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("swap on an unknown user: %v, want db.ErrConflict", err)
	}
}
