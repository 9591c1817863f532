package sessions_test

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
	"idp/sessions"
)

// Conformance tests of sessions.Store (STYLE.md §1.2), run on SQLite and,
// with IDP_TEST_POSTGRES, on PostgreSQL. session_test.go covers the Service
// on top; these hold each Store method to its contract, boundaries and
// races included. Times are whole microseconds, what PostgreSQL keeps.

// stored creates, straight through the Store, a session of userID with
// every field set: id and token hash derive from id, it was created at
// created and expires at expires. The other times differ from these so a
// swapped column shows.
func (e *env) stored(t *testing.T, userID, id string, created, expires time.Time) *sessions.Session {
	t.Helper()
	s := &sessions.Session{
		ID: id, TokenHash: "hash-" + id, UserID: userID,
		AuthTime: created.Add(-time.Minute), CreatedAt: created,
		LastSeenAt: created.Add(time.Second), ExpiresAt: expires,
		IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (ü)", AMR: []string{"pwd", "otp", "mfa"},
	}
	if err := e.svc.Store().Create(context.Background(), s); err != nil {
		t.Fatalf("Create %s: %v", id, err)
	}
	return s
}

// inUTC returns s with its times in UTC, so comparisons of what was read
// test the instants; TestStoreReadsTimesInUTC tests the zone.
func inUTC(s *sessions.Session) *sessions.Session {
	if s == nil {
		return nil
	}
	c := *s
	for _, p := range []*time.Time{&c.AuthTime, &c.CreatedAt, &c.LastSeenAt, &c.ExpiresAt} {
		*p = p.UTC()
	}
	return &c
}

// reads returns session id of userID as each read path sees it: ByID,
// ByTokenHash and ListUser at now (where it must be the only live one).
func (e *env) reads(t *testing.T, userID, id string, now time.Time) map[string]*sessions.Session {
	t.Helper()
	ctx := context.Background()
	st := e.svc.Store()
	byID, err := st.ByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	byHash, err := st.ByTokenHash(ctx, "hash-"+id)
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.ListUser(ctx, userID, now)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUser = %d sessions, %v; want 1", len(list), err)
	}
	return map[string]*sessions.Session{"ByID": byID, "ByTokenHash": byHash, "ListUser": &list[0]}
}

// ids lists the ids of l in order.
func ids(l []sessions.Session) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.ID
	}
	return out
}

func TestStoreRoundTripEveryField(t *testing.T) {
	e := newEnv(t)
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	want := e.stored(t, e.ada, "s1", at, at.Add(ttl))
	for name, got := range e.reads(t, e.ada, "s1", at) {
		if !reflect.DeepEqual(inUTC(got), want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// TestStoreReadsTimesInUTC: every read path returns UTC times, as the
// users and clients stores do, so what the account page prints does not
// depend on the dialect or on the server's zone.
func TestStoreReadsTimesInUTC(t *testing.T) {
	e := newEnv(t)
	at := e.clock.Now()
	e.stored(t, e.ada, "s1", at, at.Add(ttl))
	for name, got := range e.reads(t, e.ada, "s1", at) {
		for _, tm := range []time.Time{got.AuthTime, got.CreatedAt, got.LastSeenAt, got.ExpiresAt} {
			if tm.Location() != time.UTC {
				t.Errorf("%s: time %v in %v, want UTC", name, tm, tm.Location())
			}
		}
	}
}

func TestStoreCreateConflictsAndNotFound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.svc.Store()
	at := e.clock.Now()
	e.stored(t, e.ada, "taken", at, at.Add(ttl))
	sameID := sessions.Session{ID: "taken", TokenHash: "other", UserID: e.ada, AuthTime: at, CreatedAt: at, LastSeenAt: at, ExpiresAt: at}
	sameHash := sameID
	sameHash.ID, sameHash.TokenHash = "fresh", "hash-taken"
	for name, s := range map[string]*sessions.Session{"id": &sameID, "token hash": &sameHash} {
		if err := st.Create(ctx, s); !errors.Is(err, db.ErrConflict) {
			t.Errorf("Create with a taken %s: %v, want db.ErrConflict", name, err)
		}
	}
	if _, err := st.ByID(ctx, "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("ByID of an unknown id: %v, want db.ErrNotFound", err)
	}
	// The hash is the lookup key, never the public id.
	if _, err := st.ByTokenHash(ctx, "taken"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("ByTokenHash of an id: %v, want db.ErrNotFound", err)
	}
}

// TestStoreConcurrentCreateSameTokenHash: the unique token hash is what
// stops two sessions sharing a cookie secret; racing inserts of one hash
// under different ids must leave exactly one.
func TestStoreConcurrentCreateSameTokenHash(t *testing.T) {
	e := newEnv(t)
	at := e.clock.Now()
	const n = 10
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		s := &sessions.Session{ID: fmt.Sprint("s", i), TokenHash: "one-secret", UserID: e.ada,
			AuthTime: at, CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(ttl)}
		wg.Go(func() { <-start; errs[i] = e.svc.Store().Create(context.Background(), s) })
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
	if l, err := e.svc.Store().ListUser(context.Background(), e.ada, at); won != 1 || err != nil || len(l) != 1 {
		t.Fatalf("%d creations succeeded, %d sessions stored (%v); want 1 and 1", won, len(l), err)
	}
}

// TestStoreTouchOnlyLastSeen: Touch moves last_seen_at and nothing else,
// on the session named only. Touching an unknown id is no error (the
// Service ignores its result) and creates nothing.
func TestStoreTouchOnlyLastSeen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.svc.Store()
	at := e.clock.Now()
	a := e.stored(t, e.ada, "a", at, at.Add(ttl))
	b := e.stored(t, e.ada, "b", at, at.Add(ttl))
	seen := at.Add(42*time.Minute + 7*time.Microsecond)
	if err := st.Touch(ctx, "a", seen); err != nil {
		t.Fatal(err)
	}
	want := *a
	want.LastSeenAt = seen
	for id, w := range map[string]*sessions.Session{"a": &want, "b": b} {
		if got, err := st.ByID(ctx, id); err != nil || !reflect.DeepEqual(inUTC(got), w) {
			t.Errorf("session %s after Touch(a):\n got %+v, %v\nwant %+v", id, got, err, w)
		}
	}
	if err := st.Touch(ctx, "ghost", seen); err != nil {
		t.Errorf("Touch of an unknown id: %v", err)
	}
	if _, err := st.ByID(ctx, "ghost"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("Touch created a session: %v", err)
	}
}

// TestStoreDeleteOwnerOnlyAndRace: Delete needs the owner's id, reports
// the rows it removed, and of racing deletions of one session exactly one
// reports a row (Service.End turns 0 into ErrNoSession).
func TestStoreDeleteOwnerOnlyAndRace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.svc.Store()
	at := e.clock.Now()
	e.stored(t, e.ada, "mine", at, at.Add(ttl))
	e.stored(t, e.ada, "kept", at, at.Add(ttl))
	if n, err := st.Delete(ctx, e.grace, "mine"); err != nil || n != 0 {
		t.Fatalf("Delete by another user = %d, %v; want 0", n, err)
	}
	const racers = 10
	counts := make([]int64, racers)
	errs := dbtest.Race(racers, func(i int) (err error) {
		counts[i], err = st.Delete(ctx, e.ada, "mine")
		return err
	})
	var total int64
	for i := range racers {
		if errs[i] != nil {
			t.Errorf("racer %d: %v", i, errs[i])
		}
		total += counts[i]
	}
	if total != 1 {
		t.Fatalf("racing deletions removed %d rows in all, want 1", total)
	}
	if l, err := st.ListUser(ctx, e.ada, at); err != nil || !reflect.DeepEqual(ids(l), []string{"kept"}) {
		t.Fatalf("left %v, %v; want [kept]", ids(l), err)
	}
}

func TestStoreDeleteUserCountsAndSparesOthers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.svc.Store()
	at := e.clock.Now()
	for _, id := range []string{"a1", "a2", "a3"} {
		e.stored(t, e.ada, id, at, at.Add(ttl))
	}
	g := e.stored(t, e.grace, "g1", at, at.Add(ttl))
	if n, err := st.DeleteUser(ctx, e.ada); err != nil || n != 3 {
		t.Fatalf("DeleteUser = %d, %v; want 3", n, err)
	}
	if n, err := st.DeleteUser(ctx, e.ada); err != nil || n != 0 {
		t.Fatalf("second DeleteUser = %d, %v; want 0", n, err)
	}
	if got, err := st.ByID(ctx, "g1"); err != nil || !reflect.DeepEqual(inUTC(got), g) {
		t.Fatalf("another user's session: %+v, %v", got, err)
	}
}

// TestStoreListUserOrderAndExpiryBoundary: newest first; a session whose
// expiry equals now is over (the Service's Lookup agrees: !now.Before),
// one a microsecond later is live; other users' sessions never show; no
// sessions is an empty slice.
func TestStoreListUserOrderAndExpiryBoundary(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.svc.Store()
	now := e.clock.Now()
	e.stored(t, e.ada, "old", now.Add(-3*time.Hour), now.Add(time.Hour))
	e.stored(t, e.ada, "new", now.Add(-time.Hour), now.Add(time.Hour))
	e.stored(t, e.ada, "mid", now.Add(-2*time.Hour), now.Add(time.Microsecond))
	e.stored(t, e.ada, "at-now", now.Add(-30*time.Minute), now)
	e.stored(t, e.grace, "grace", now, now.Add(time.Hour))
	l, err := st.ListUser(ctx, e.ada, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"new", "mid", "old"}; !reflect.DeepEqual(ids(l), want) {
		t.Fatalf("ListUser = %v, want %v", ids(l), want)
	}
	l, err = st.ListUser(ctx, "nobody", now)
	if err != nil || l == nil || len(l) != 0 {
		t.Fatalf("ListUser of nobody = %#v, %v; want an empty slice", l, err)
	}
}

// TestStoreDeleteExpiredLimitAndBoundary: each call removes at most limit
// rows, all with expires_at <= now (the boundary row included), and never
// one that is still live, however many calls are made.
func TestStoreDeleteExpiredLimitAndBoundary(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.svc.Store()
	now := e.clock.Now()
	for i, exp := range []time.Duration{-time.Hour, -time.Minute, -time.Microsecond, 0, -2 * time.Hour} {
		e.stored(t, e.ada, fmt.Sprint("dead", i), now.Add(-3*time.Hour), now.Add(exp))
	}
	live := e.stored(t, e.grace, "live", now.Add(-3*time.Hour), now.Add(time.Microsecond))
	for i, want := range []int64{2, 2, 1, 0} {
		if n, err := st.DeleteExpired(ctx, now, 2); err != nil || n != want {
			t.Fatalf("call %d: DeleteExpired = %d, %v; want %d", i, n, err, want)
		}
	}
	for i := range 5 {
		if _, err := st.ByID(ctx, fmt.Sprint("dead", i)); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("dead%d survived: %v", i, err)
		}
	}
	if got, err := st.ByID(ctx, "live"); err != nil || !reflect.DeepEqual(inUTC(got), live) {
		t.Fatalf("the live session: %+v, %v", got, err)
	}
}

// TestStoreComparesInstantsNotZones: now given in another zone names the
// same instant, so it must select the same rows as in UTC.
func TestStoreComparesInstantsNotZones(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := e.svc.Store()
	now := e.clock.Now()
	e.stored(t, e.ada, "live", now.Add(-time.Hour), now.Add(time.Hour))
	ahead := now.In(time.FixedZone("UTC+2", 2*3600))
	if l, err := st.ListUser(ctx, e.ada, ahead); err != nil || len(l) != 1 {
		t.Errorf("ListUser with now in UTC+2 = %v, %v; want [live]", ids(l), err)
	}
	behind := now.Add(2 * time.Hour).In(time.FixedZone("UTC-5", -5*3600))
	if n, err := st.DeleteExpired(ctx, behind, 10); err != nil || n != 1 {
		t.Errorf("DeleteExpired an hour past expiry, now in UTC-5 = %d, %v; want 1", n, err)
	}
}
