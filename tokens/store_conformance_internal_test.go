package tokens

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"idp/clients"
	"idp/db"
	"idp/db/dbtest"
)

// Conformance tests of the Store methods in store.go (STYLE.md §1.2), run
// on SQLite and, with IDP_TEST_POSTGRES, on PostgreSQL: each method's
// round trip, its not-found and conflict errors, its time boundaries and
// its races. Times are whole microseconds, what PostgreSQL keeps.

// utc returns a copy of the row *p with every time.Time and *time.Time
// field in UTC, so a round trip compares instants, not the zone the
// driver picked (TestStoreReadsTimesInUTC is about the zone).
func utc[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i).Addr().Interface().(type) {
		case *time.Time:
			*f = f.UTC()
		case **time.Time:
			if *f != nil {
				u := (*f).UTC()
				*f = &u
			}
		}
	}
	return &c
}

// at returns the env's clock shifted by d, as a pointer for nullable columns.
func (e *refreshEnv) at(d time.Duration) *time.Time {
	t := e.clock.Now().Add(d)
	return &t
}

// oneWinner races n calls of try, each reporting whether it won, and
// returns the index of the one that did. It fails t on any error and
// unless exactly one won: every "exactly one wins" contract goes through it.
func oneWinner(t *testing.T, n int, try func(i int) (bool, error)) int {
	t.Helper()
	won := make([]bool, n)
	errs := dbtest.Race(n, func(i int) (err error) { won[i], err = try(i); return err })
	winner := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("racer %d: %v", i, errs[i])
		case won[i] && winner >= 0:
			t.Errorf("racers %d and %d both won", winner, i)
		case won[i]:
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d racers won", n)
	}
	return winner
}

// storedCode creates a code row of the env's user and client with every
// column set, expiring at exp, and returns it.
func (e *refreshEnv) storedCode(t *testing.T, hash string, exp time.Time) *codeRow {
	t.Helper()
	now := e.clock.Now()
	c := &codeRow{
		CodeHash: hash, ClientID: e.client.ID, UserID: e.user.ID, SessionID: "sess-1",
		RedirectURI: "https://app.example/cb", Scope: "openid email", Nonce: "n-1",
		CodeChallenge: "challenge", CodeChallengeMethod: "S256", Resources: []string{"https://api.example"},
		AuthTime: now.Add(-time.Minute), CreatedAt: now, ExpiresAt: exp,
	}
	if err := e.s.store.createCode(context.Background(), c); err != nil {
		t.Fatalf("createCode %s: %v", hash, err)
	}
	return c
}

func TestStoreAuthRequestRoundTrip(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	maxAge, zero := 300, 0
	want := []*authRequestRow{
		{ID: "full", ClientID: e.client.ID, RedirectURI: "https://app.example/cb", ResponseMode: "form_post",
			Scope: "openid email", State: "st", Nonce: "n", CodeChallenge: "ch", CodeChallengeMethod: "S256",
			Prompt: "login consent", MaxAge: &maxAge, LoginHint: "ada", Resources: []string{"https://a", "https://b"},
			LoggedInAt: e.at(time.Second), CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)},
		// max_age=0 is a demand (sign in again), not an absent parameter.
		{ID: "zero-age", ClientID: e.client.ID, RedirectURI: "r", ResponseMode: "query", Scope: "openid",
			MaxAge: &zero, Resources: []string{}, CreatedAt: now, ExpiresAt: now},
		{ID: "bare", ClientID: e.client.ID, RedirectURI: "r", ResponseMode: "query", Scope: "openid",
			Resources: []string{}, CreatedAt: now, ExpiresAt: now},
	}
	for _, w := range want {
		if err := st.createAuthRequest(ctx, w); err != nil {
			t.Fatalf("createAuthRequest %s: %v", w.ID, err)
		}
		if got, err := st.authRequest(ctx, w.ID); err != nil || !reflect.DeepEqual(utc(got), w) {
			t.Errorf("authRequest %s:\n got %+v, %v\nwant %+v", w.ID, got, err, w)
		}
	}
	if err := st.createAuthRequest(ctx, &authRequestRow{ID: "full", ClientID: e.client.ID, CreatedAt: now, ExpiresAt: now,
		Resources: []string{}}); !errors.Is(err, db.ErrConflict) {
		t.Errorf("createAuthRequest with a taken id: %v, want db.ErrConflict", err)
	}
	if _, err := st.authRequest(ctx, "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("authRequest of an unknown id: %v, want db.ErrNotFound", err)
	}
	// MarkLoggedIn sets that one column of that one row. An unknown id is
	// no error: the Service looked the request up just before.
	logged := now.Add(7 * time.Microsecond)
	if err := st.MarkLoggedIn(ctx, "bare", logged); err != nil {
		t.Fatal(err)
	}
	marked := *want[2]
	marked.LoggedInAt = &logged
	if got, err := st.authRequest(ctx, "bare"); err != nil || !reflect.DeepEqual(utc(got), &marked) {
		t.Errorf("after MarkLoggedIn:\n got %+v, %v\nwant %+v", got, err, &marked)
	}
	if got, err := st.authRequest(ctx, "zero-age"); err != nil || got.LoggedInAt != nil {
		t.Errorf("MarkLoggedIn touched another request: %+v, %v", got, err)
	}
	if err := st.MarkLoggedIn(ctx, "nope", logged); err != nil {
		t.Errorf("MarkLoggedIn of an unknown id: %v", err)
	}
}

// TestStoreDeleteAuthRequestRace: of racing deletions of one request (the
// double-submitted consent form) exactly one reports true.
func TestStoreDeleteAuthRequestRace(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	now := e.clock.Now()
	if err := e.s.store.createAuthRequest(ctx, &authRequestRow{ID: "once", ClientID: e.client.ID, RedirectURI: "r",
		ResponseMode: "query", Scope: "openid", Resources: []string{}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	oneWinner(t, 10, func(int) (bool, error) { return e.s.store.DeleteAuthRequest(ctx, "once") })
	if c := e.count(t, "auth_requests", ""); c != 0 {
		t.Fatalf("%d rows left after the deletions, want 0", c)
	}
}

// TestStoreCodeRoundTripAndClaimBoundary: a code reads back column for
// column; it can be claimed until, not at, its expiry; the claim records
// what it issued and cannot be repeated.
func TestStoreCodeRoundTripAndClaimBoundary(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	live := e.storedCode(t, "live", now.Add(time.Microsecond))
	e.storedCode(t, "at-now", now)
	if got, err := st.code(ctx, "live"); err != nil || !reflect.DeepEqual(utc(got), live) {
		t.Fatalf("code:\n got %+v, %v\nwant %+v", got, err, live)
	}
	if err := st.createCode(ctx, &codeRow{CodeHash: "live", ClientID: e.client.ID, UserID: e.user.ID,
		Resources: []string{}, AuthTime: now, CreatedAt: now, ExpiresAt: now}); !errors.Is(err, db.ErrConflict) {
		t.Errorf("createCode with a taken hash: %v, want db.ErrConflict", err)
	}
	if _, err := st.code(ctx, "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("code of an unknown hash: %v, want db.ErrNotFound", err)
	}
	accessExp := now.Add(10 * time.Minute)
	for _, c := range []struct {
		hash string
		want bool
	}{{"at-now", false}, {"nope", false}, {"live", true}, {"live", false}} {
		if won, err := st.ClaimCode(ctx, c.hash, now, "jti-"+c.hash, accessExp, "fam"); err != nil || won != c.want {
			t.Errorf("ClaimCode(%s) = %v, %v; want %v", c.hash, won, err, c.want)
		}
	}
	claimed := *live
	claimed.UsedAt, claimed.AccessJTI, claimed.AccessExpiresAt, claimed.RefreshFamily = &now, "jti-live", &accessExp, "fam"
	if got, err := st.code(ctx, "live"); err != nil || !reflect.DeepEqual(utc(got), &claimed) {
		t.Errorf("after the claim:\n got %+v, %v\nwant %+v", got, err, &claimed)
	}
	if got, err := st.code(ctx, "at-now"); err != nil || got.UsedAt != nil || got.AccessJTI != "" {
		t.Errorf("a refused claim changed the row: %+v, %v", got, err)
	}
}

// TestStoreClaimCodeRace: racing claims of one code, each with its own
// access token id; exactly one wins, and the row records the winner's.
func TestStoreClaimCodeRace(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	now := e.clock.Now()
	e.storedCode(t, "contested", now.Add(time.Minute))
	winner := oneWinner(t, 20, func(i int) (bool, error) {
		return e.s.store.ClaimCode(ctx, "contested", now, fmt.Sprint("jti-", i), now.Add(time.Hour), fmt.Sprint("fam-", i))
	})
	got, err := e.s.store.code(ctx, "contested")
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessJTI != fmt.Sprint("jti-", winner) || got.RefreshFamily != fmt.Sprint("fam-", winner) {
		t.Fatalf("row records %s / %s, want the winner's (racer %d)", got.AccessJTI, got.RefreshFamily, winner)
	}
}

// TestStoreConsentUpsert: no consent is db.ErrNotFound; saving again
// replaces the scopes and keeps created_at; pairs are independent; racing
// first saves of one pair all succeed as one row; deleting is idempotent.
func TestStoreConsentUpsert(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	if err := clients.NewStore(e.db.Gorm).Create(ctx, &clients.Client{ID: "other"}); err != nil {
		t.Fatal(err)
	}
	if s, err := st.Consent(ctx, e.user.ID, e.client.ID); !errors.Is(err, db.ErrNotFound) || s != nil {
		t.Fatalf("Consent before any = %v, %v; want nil, db.ErrNotFound", s, err)
	}
	errs := dbtest.Race(8, func(int) error { return st.SaveConsent(ctx, e.user.ID, e.client.ID, []string{"openid"}, now) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("racing SaveConsent %d: %v", i, err)
		}
	}
	if c := e.count(t, "consents", ""); c != 1 {
		t.Fatalf("%d consent rows after racing saves, want 1", c)
	}
	later := now.Add(time.Hour)
	if err := st.SaveConsent(ctx, e.user.ID, e.client.ID, []string{"email", "openid"}, later); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveConsent(ctx, e.user.ID, "other", []string{}, now); err != nil {
		t.Fatal(err)
	}
	var rows []consentRow
	if err := e.db.Gorm.Order("client_id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	want := []consentRow{
		{UserID: e.user.ID, ClientID: e.client.ID, Scopes: []string{"email", "openid"}, CreatedAt: now, UpdatedAt: later},
		{UserID: e.user.ID, ClientID: "other", Scopes: []string{}, CreatedAt: now, UpdatedAt: now},
	}
	for i := range rows {
		rows[i] = *utc(&rows[i])
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("consent rows:\n got %+v\nwant %+v", rows, want)
	}
	for range 2 {
		if err := st.DeleteConsent(ctx, e.user.ID, e.client.ID); err != nil {
			t.Fatalf("DeleteConsent: %v", err)
		}
	}
	if _, err := st.Consent(ctx, e.user.ID, e.client.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("Consent after DeleteConsent: %v, want db.ErrNotFound", err)
	}
	if s, err := st.Consent(ctx, e.user.ID, "other"); err != nil || s == nil || len(s) != 0 {
		t.Errorf("the other client's consent = %#v, %v; want an empty list", s, err)
	}
}

// TestStoreDenylistIdempotent: revoking is harmless however often and
// however concurrently; the first expiry stays.
func TestStoreDenylistIdempotent(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	exp := e.clock.Now().Add(time.Hour)
	if r, err := st.Revoked(ctx, "jti"); err != nil || r {
		t.Fatalf("Revoked before any = %v, %v", r, err)
	}
	for i, err := range dbtest.Race(10, func(int) error { return st.RevokeJTI(ctx, "jti", exp) }) {
		if err != nil {
			t.Errorf("racing RevokeJTI %d: %v", i, err)
		}
	}
	if err := st.RevokeJTI(ctx, "jti", exp.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var rows []revokedRow
	if err := e.db.Gorm.Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].JTI != "jti" || !rows[0].ExpiresAt.Equal(exp) {
		t.Fatalf("denylist %+v, want one entry expiring %v", rows, exp)
	}
	for jti, want := range map[string]bool{"jti": true, "other": false, "": false} {
		if r, err := st.Revoked(ctx, jti); err != nil || r != want {
			t.Errorf("Revoked(%q) = %v, %v; want %v", jti, r, err, want)
		}
	}
}

// TestStoreDeleteExpiredBoundariesAndLimit: requests and denylist entries
// go once expires_at <= now, codes a day later (codeRetention), at most
// limit rows per table and call, and nothing younger.
func TestStoreDeleteExpiredBoundariesAndLimit(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	offsets := []time.Duration{-time.Microsecond, 0, time.Microsecond} // the last one stays
	for i, d := range offsets {
		id := fmt.Sprint("r", i)
		if err := st.createAuthRequest(ctx, &authRequestRow{ID: id, ClientID: e.client.ID, RedirectURI: "r",
			ResponseMode: "query", Scope: "openid", Resources: []string{}, CreatedAt: now, ExpiresAt: now.Add(d)}); err != nil {
			t.Fatal(err)
		}
		e.storedCode(t, fmt.Sprint("c", i), now.Add(d-codeRetention))
		if err := st.RevokeJTI(ctx, fmt.Sprint("j", i), now.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	for call, want := range []int64{3, 3, 0} {
		if n, err := st.DeleteExpired(ctx, now, 1); err != nil || n != want {
			t.Fatalf("call %d: DeleteExpired = %d, %v; want %d", call, n, err, want)
		}
	}
	for table, key := range map[string]string{"auth_requests": "id = 'r2'", "auth_codes": "code_hash = 'c2'", "revoked_tokens": "jti = 'j2'"} {
		if all, kept := e.count(t, table, ""), e.count(t, table, key); all != 1 || kept != 1 {
			t.Errorf("%s keeps %d rows (%d the unexpired one), want just it", table, all, kept)
		}
	}
}
