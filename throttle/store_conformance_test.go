package throttle

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

// Conformance tests of the throttle Store (STYLE.md §1.2), run on SQLite
// and, with IDP_TEST_POSTGRES, on PostgreSQL. throttle_test.go covers the
// Throttle on top; these hold each Store method to its contract. Times are
// whole microseconds, what PostgreSQL keeps.

// counter reads the row of key straight from the table, times in UTC.
func counter(t *testing.T, s *Store, key string) row {
	t.Helper()
	var r row
	if err := db.Map(s.g.Where("key = ?", key).Take(&r).Error); err != nil {
		t.Fatalf("counter %s: %v", key, err)
	}
	r.FirstAt, r.LastAt = r.FirstAt.UTC(), r.LastAt.UTC()
	if r.LockedUntil != nil {
		u := r.LockedUntil.UTC()
		r.LockedUntil = &u
	}
	return r
}

// fails runs n concurrent fail calls on key at now and returns the counts
// they reported, sorted.
func fails(t *testing.T, s *Store, key string, n int, now, stale time.Time) []int {
	t.Helper()
	got := make([]int, n)
	errs := dbtest.Race(n, func(i int) (err error) {
		got[i], err = s.fail(context.Background(), key, now, stale)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("fail %d: %v", i, err)
		}
	}
	slices.Sort(got)
	return got
}

// oneTo returns 1, 2, …, n.
func oneTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// TestStoreLockedUntil: no counter and a counter without a lock both read
// as the zero time; a lock reads back exactly and a longer one replaces
// it; locking an unknown key creates nothing.
func TestStoreLockedUntil(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	s, now := th.store, c.now()
	if u, err := s.lockedUntil(ctx, "k"); err != nil || !u.IsZero() {
		t.Fatalf("lockedUntil of no counter = %v, %v; want zero", u, err)
	}
	if _, err := s.fail(ctx, "k", now, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if u, err := s.lockedUntil(ctx, "k"); err != nil || !u.IsZero() {
		t.Fatalf("lockedUntil of an unlocked counter = %v, %v; want zero", u, err)
	}
	for _, until := range []time.Time{now.Add(time.Second), now.Add(8*time.Second + time.Microsecond)} {
		if err := s.lock(ctx, "k", until); err != nil {
			t.Fatal(err)
		}
		if u, err := s.lockedUntil(ctx, "k"); err != nil || !u.Equal(until) {
			t.Fatalf("lockedUntil = %v, %v; want %v", u, err, until)
		}
	}
	if err := s.lock(ctx, "ghost", now.Add(time.Hour)); err != nil {
		t.Fatalf("lock of an unknown key: %v", err)
	}
	if u, err := s.lockedUntil(ctx, "ghost"); err != nil || !u.IsZero() {
		t.Fatalf("lock created a counter: %v, %v", u, err)
	}
}

// TestStoreFailStaleBoundary: a counter whose last failure is exactly at
// the stale cut-off still counts on (the condition is last_at < stale); a
// microsecond older, it restarts at 1 with first_at moved to now. The lock
// is not fail's business and stays.
func TestStoreFailStaleBoundary(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	s, t1 := th.store, c.now()
	t2, t3 := t1.Add(time.Minute), t1.Add(2*time.Minute)
	lock := t1.Add(time.Hour)
	steps := []struct {
		now, stale time.Time
		want       row
	}{
		{t1, t1.Add(-time.Hour), row{Key: "k", Failures: 1, FirstAt: t1, LastAt: t1}},
		{t2, t1, row{Key: "k", Failures: 2, FirstAt: t1, LastAt: t2, LockedUntil: &lock}},
		{t3, t2.Add(time.Microsecond), row{Key: "k", Failures: 1, FirstAt: t3, LastAt: t3, LockedUntil: &lock}},
	}
	for i, st := range steps {
		n, err := s.fail(ctx, "k", st.now, st.stale)
		if err != nil || n != st.want.Failures {
			t.Fatalf("step %d: fail = %d, %v; want %d", i, n, err, st.want.Failures)
		}
		if got := counter(t, s, "k"); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d: row\n got %+v\nwant %+v", i, got, st.want)
		}
		if i == 0 {
			if err := s.lock(ctx, "k", lock); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestStoreFailRaceEveryCountOnce: N concurrent failures on one key each
// report a different count, 1 to N, and the row ends at N, on a fresh key
// and on a stale counter that exactly one of them restarts.
func TestStoreFailRaceEveryCountOnce(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	s, now := th.store, c.now()
	const n = 16
	if got := fails(t, s, "fresh", n, now, now.Add(-time.Hour)); !reflect.DeepEqual(got, oneTo(n)) {
		t.Fatalf("counts on a fresh key %v, want 1…%d", got, n)
	}
	old := now.Add(-2 * time.Hour)
	for range 5 {
		if _, err := s.fail(ctx, "stale", old, old.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if got := fails(t, s, "stale", n, now, now.Add(-time.Hour)); !reflect.DeepEqual(got, oneTo(n)) {
		t.Fatalf("counts on a stale counter %v, want 1…%d", got, n)
	}
	for _, key := range []string{"fresh", "stale"} {
		if r := counter(t, s, key); r.Failures != n || !r.FirstAt.Equal(now) || !r.LastAt.Equal(now) {
			t.Errorf("%s after the race: %+v; want %d failures since %v", key, r, n, now)
		}
	}
}

// TestStoreClearOneKey: clear forgets one counter and is idempotent.
func TestStoreClearOneKey(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	s, now := th.store, c.now()
	for _, key := range []string{"a", "b"} {
		if _, err := s.fail(ctx, key, now, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := s.clear(ctx, "a"); err != nil {
			t.Fatalf("clear: %v", err)
		}
	}
	if n, err := s.fail(ctx, "a", now, now.Add(-time.Hour)); err != nil || n != 1 {
		t.Errorf("fail after clear = %d, %v; want 1", n, err)
	}
	if r := counter(t, s, "b"); r.Failures != 1 {
		t.Errorf("clear(a) changed b: %+v", r)
	}
}

// TestStorePurgeBoundaryAndLimit: purge takes counters idle since strictly
// before its cut-off, at most limit a call; one whose last failure is at
// the cut-off stays.
func TestStorePurgeBoundaryAndLimit(t *testing.T) {
	th, c := newThrottle(t)
	ctx := context.Background()
	s, cut := th.store, c.now()
	for i, d := range []time.Duration{-2 * time.Hour, -time.Hour, -time.Microsecond, 0, time.Microsecond} {
		at := cut.Add(d)
		if _, err := s.fail(ctx, fmt.Sprint("k", i), at, at.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for call, want := range []int64{2, 1, 0} {
		if n, err := s.purge(ctx, cut, 2); err != nil || n != want {
			t.Fatalf("call %d: purge = %d, %v; want %d", call, n, err, want)
		}
	}
	var keys []string
	if err := s.g.Model(&row{}).Order("key").Pluck("key", &keys).Error; err != nil {
		t.Fatal(err)
	}
	if want := []string{"k3", "k4"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("counters left %v, want %v", keys, want)
	}
}
