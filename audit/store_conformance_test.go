package audit_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"idp/audit"
	"idp/db"
	"idp/db/dbtest"
)

// Conformance tests of audit.Store (STYLE.md §1.2), run on SQLite and,
// with IDP_TEST_POSTGRES, on PostgreSQL. Times are whole microseconds,
// what PostgreSQL keeps.

// t0 is a fixed instant for events; tests place events relative to it.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)

// newStore returns a Store on a fresh migrated database.
func newStore(t *testing.T) *audit.Store {
	t.Helper()
	return audit.NewStore(dbtest.Open(t).Gorm)
}

// create stores an event with every field set, id id, at at.
func create(t *testing.T, s *audit.Store, id string, at time.Time) audit.Event {
	t.Helper()
	e := audit.Event{ID: id, At: at, Actor: "ada@example.com", Action: "client.created", Target: "app-" + id,
		Via: audit.ViaAPI, IP: "2001:db8::7", Detail: "redirect_uris=[https://app.example/cb] ✓"}
	if err := s.Create(context.Background(), &e); err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
	return e
}

// listIDs lists the ids of the events before before, at most limit.
func listIDs(t *testing.T, s *audit.Store, before time.Time, limit int) []string {
	t.Helper()
	evs, err := s.List(context.Background(), before, limit)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

func TestStoreRoundTripAndConflict(t *testing.T) {
	s := newStore(t)
	want := create(t, s, "e1", t0)
	evs, err := s.List(context.Background(), t0.Add(time.Microsecond), 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("List = %+v, %v; want one event", evs, err)
	}
	got := evs[0]
	got.At = got.At.UTC() // the zone is TestStoreReadsTimesInUTC's concern
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// The log is append-only: an id is never overwritten.
	dup := want
	dup.Action = "client.deleted"
	if err := s.Create(context.Background(), &dup); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("Create with a taken id: %v, want db.ErrConflict", err)
	}
	if evs, _ := s.List(context.Background(), t0.Add(time.Second), 10); len(evs) != 1 || evs[0].Action != want.Action {
		t.Fatalf("after the refused duplicate: %+v", evs)
	}
}

// TestStoreListBoundaryOrderLimit: List is strictly before its time (an
// event at exactly before is left for no page: callers page with the last
// event's time), newest first, ties on the time broken by id descending,
// and at most limit events.
func TestStoreListBoundaryOrderLimit(t *testing.T) {
	s := newStore(t)
	create(t, s, "a", t0)
	create(t, s, "b", t0.Add(time.Microsecond))
	create(t, s, "c", t0.Add(time.Microsecond))
	create(t, s, "d", t0.Add(2*time.Microsecond))
	for _, c := range []struct {
		before time.Time
		limit  int
		want   []string
	}{
		{t0.Add(time.Hour), 10, []string{"d", "c", "b", "a"}},
		{t0.Add(2 * time.Microsecond), 10, []string{"c", "b", "a"}},
		{t0.Add(2 * time.Microsecond), 2, []string{"c", "b"}},
		{t0.Add(time.Microsecond), 10, []string{"a"}},
		{t0, 10, []string{}},
	} {
		if got := listIDs(t, s, c.before, c.limit); !reflect.DeepEqual(got, c.want) {
			t.Errorf("List(before %s, limit %d) = %v, want %v", c.before.Sub(t0), c.limit, got, c.want)
		}
	}
}

// TestStoreConcurrentCreates: events recorded at once by many requests all
// land; racing writers of one id leave exactly one row.
func TestStoreConcurrentCreates(t *testing.T) {
	s := newStore(t)
	const n = 16
	errs := make([]error, 2*n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 2 * n {
		id := fmt.Sprintf("e%02d", i)
		if i >= n {
			id = "same"
		}
		e := &audit.Event{ID: id, At: t0, Action: "signin.failure"}
		wg.Go(func() { <-start; errs[i] = s.Create(context.Background(), e) })
	}
	close(start)
	wg.Wait()
	same := 0
	for i, err := range errs {
		switch {
		case i < n && err != nil:
			t.Errorf("distinct event %d: %v", i, err)
		case i >= n && err == nil:
			same++
		case i >= n && !errors.Is(err, db.ErrConflict):
			t.Errorf("a loser on one id got %v, want db.ErrConflict", err)
		}
	}
	if same != 1 {
		t.Errorf("%d writers of one id succeeded, want 1", same)
	}
	if got := listIDs(t, s, t0.Add(time.Second), 100); len(got) != n+1 {
		t.Fatalf("%d events stored, want %d", len(got), n+1)
	}
}

// TestStoreReadsTimesInUTC: List returns UTC times on both dialects; the
// admin API encodes them as they come.
func TestStoreReadsTimesInUTC(t *testing.T) {
	s := newStore(t)
	create(t, s, "e", t0)
	evs, err := s.List(context.Background(), t0.Add(time.Second), 1)
	if err != nil || len(evs) != 1 || evs[0].At.Location() != time.UTC {
		t.Fatalf("List = %+v, %v; want one event at a UTC time", evs, err)
	}
}

// TestStoreListBeforeInAnyZone: before names an instant whatever its zone.
// GET /api/admin/audit?before= passes a client's RFC 3339 time, offset and
// all, through audit.Log.List to this Store unchanged.
func TestStoreListBeforeInAnyZone(t *testing.T) {
	s := newStore(t)
	create(t, s, "e", t0)
	// Earlier as an instant, later as a wall clock: the event must not show.
	earlier := t0.Add(-time.Minute).In(time.FixedZone("UTC+2", 2*3600))
	if got := listIDs(t, s, earlier, 10); len(got) != 0 {
		t.Errorf("List(before a minute earlier, in UTC+2) = %v, want none", got)
	}
	// Later as an instant, earlier as a wall clock: the event must show.
	later := t0.Add(time.Minute).In(time.FixedZone("UTC-5", -5*3600))
	if got := listIDs(t, s, later, 10); !reflect.DeepEqual(got, []string{"e"}) {
		t.Errorf("List(before a minute later, in UTC-5) = %v, want [e]", got)
	}
}
