package clients

import (
	"errors"
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

// TestStoreConcurrentCreateSameID: racing registrations of one client id
// (two admins, or two replicas seeding) — the primary key lets exactly one
// through, the rest get db.ErrConflict, and the stored row is the winner's.
func TestStoreConcurrentCreateSameID(t *testing.T) {
	d := dbtest.Open(t)
	s := NewStore(d.Gorm)
	const n = 12
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c := fullClient("racy")
		c.Name = string(rune('a' + i))
		wg.Go(func() { <-start; errs[i] = s.Create(t.Context(), c) })
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("creations %d and %d both succeeded", winner, i)
		case !errors.Is(err, db.ErrConflict):
			t.Errorf("creation %d: %v, want db.ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creation succeeded")
	}
	if n := countClients(t, d); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	if got, err := s.ByID(t.Context(), "racy"); err != nil || got.Name != string(rune('a'+winner)) {
		t.Fatalf("stored %+v, %v; want the winner's name %q", got, err, string(rune('a'+winner)))
	}
}

// TestStoreConcurrentDelete: racing deletions of one client — exactly one
// reports success, the others db.ErrNotFound, and other clients stay.
func TestStoreConcurrentDelete(t *testing.T) {
	d := dbtest.Open(t)
	s := NewStore(d.Gorm)
	for _, id := range []string{"doomed", "kept"} {
		if err := s.Create(t.Context(), fullClient(id)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 10
	errs := dbtest.Race(n, func(int) error { return s.Delete(t.Context(), "doomed") })
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, db.ErrNotFound):
			t.Errorf("a loser got %v, want db.ErrNotFound", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d deletions succeeded, want 1", won)
	}
	if got, err := s.ByID(t.Context(), "kept"); err != nil || !reflect.DeepEqual(got, fullClient("kept")) {
		t.Fatalf("the other client after the deletions: %+v, %v", got, err)
	}
}

// TestStoreTimesAndSecretEdges: times given in another zone are stored as
// the same instant and read back in UTC by ByID and List; a nil secret hash
// (a public client) stays nil and an empty one stays empty, and a list holding one empty string is not
// confused with an empty list.
func TestStoreTimesAndSecretEdges(t *testing.T) {
	s := NewStore(dbtest.Open(t).Gorm)
	c := fullClient("zoned")
	pdt := time.FixedZone("PDT", -7*3600)
	c.CreatedAt = time.Date(2025, 7, 1, 18, 0, 0, 500000, pdt)
	c.UpdatedAt = c.CreatedAt.Add(time.Minute)
	c.SecretHash = nil
	c.Scopes = []string{""}
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	want := *c
	want.CreatedAt, want.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	got, err := s.ByID(t.Context(), "zoned")
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d clients, %v", len(list), err)
	}
	for name, g := range map[string]*Client{"ByID": got, "List": &list[0]} {
		if !reflect.DeepEqual(g, &want) || g.CreatedAt.Location() != time.UTC {
			t.Errorf("%s:\n got %+v\nwant %+v", name, g, &want)
		}
	}
	// NULL and an empty BYTEA/BLOB are different values on both dialects.
	empty := fullClient("empty-secret")
	empty.SecretHash = []byte{}
	if err := s.Create(t.Context(), empty); err != nil {
		t.Fatal(err)
	}
	g, err := s.ByID(t.Context(), empty.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.SecretHash == nil || len(g.SecretHash) != 0 {
		t.Fatalf("empty secret hash read back as %#v; want []byte{}", g.SecretHash)
	}
}
