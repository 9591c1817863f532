package tokens

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
	"idp/users"
)

// Conformance tests of the Store methods in store_refresh.go (STYLE.md
// §1.2), on SQLite and, with IDP_TEST_POSTGRES, PostgreSQL. The helpers
// utc, at, race and oneWinner are in store_conformance_internal_test.go.

// storedFamily creates, straight through the Store, a family of userID
// with every column set, expiring at exp and last used lastUsed, and its
// first token (hash "tok-"+id) whose access token expires in ten minutes.
func (e *refreshEnv) storedFamily(t *testing.T, id, userID string, exp, lastUsed time.Time) (*familyRow, *refreshRow) {
	t.Helper()
	now := e.clock.Now()
	f := &familyRow{
		ID: id, ClientID: e.client.ID, UserID: userID, SessionID: "sess-" + id, Scope: "openid offline_access",
		Resources: []string{"https://api.example"}, AuthTime: now.Add(-time.Hour), CreatedAt: now.Add(-time.Minute),
		LastUsedAt: lastUsed, ExpiresAt: exp, IP: "192.0.2.7", UserAgent: "app/2 (ü)",
	}
	r := &refreshRow{
		TokenHash: "tok-" + id, FamilyID: id, ParentHash: "parent-" + id, CreatedAt: now.Add(-time.Minute),
		IdleExpiresAt: exp, AccessJTI: "jti-" + id, AccessExpiresAt: now.Add(10 * time.Minute),
	}
	if err := e.s.store.createFamily(context.Background(), f, r); err != nil {
		t.Fatalf("createFamily %s: %v", id, err)
	}
	return f, r
}

func TestStoreFamilyRoundTripAndErrors(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	f, r := e.storedFamily(t, "f1", e.user.ID, now.Add(time.Hour), now)
	if got, err := st.family(ctx, "f1"); err != nil || !reflect.DeepEqual(utc(got), f) {
		t.Errorf("family:\n got %+v, %v\nwant %+v", got, err, f)
	}
	// refresh scans by hand; it must agree with GORM's reading of the rows.
	gotR, gotF, err := st.refresh(ctx, "tok-f1")
	if err != nil || !reflect.DeepEqual(utc(gotR), r) || !reflect.DeepEqual(utc(gotF), f) {
		t.Errorf("refresh:\n got %+v\n     %+v, %v\nwant %+v\n     %+v", gotR, gotF, err, r, f)
	}
	// An empty resource list stays empty, not nil, through both readers.
	e.storedFamily(t, "f2", e.user.ID, now.Add(time.Hour), now)
	if err := e.db.Gorm.Exec("UPDATE refresh_families SET resources = '[]' WHERE id = 'f2'").Error; err != nil {
		t.Fatal(err)
	}
	if _, fam, err := st.refresh(ctx, "tok-f2"); err != nil || fam.Resources == nil || len(fam.Resources) != 0 {
		t.Errorf("refresh of a family without resources: %#v, %v; want []string{}", fam, err)
	}
	if fam, err := st.family(ctx, "f2"); err != nil || fam.Resources == nil || len(fam.Resources) != 0 {
		t.Errorf("family without resources: %#v, %v; want []string{}", fam, err)
	}
	dupFamily := *f
	if err := st.createFamily(ctx, &dupFamily, &refreshRow{TokenHash: "fresh"}); !errors.Is(err, db.ErrConflict) {
		t.Errorf("createFamily with a taken id: %v, want db.ErrConflict", err)
	}
	if err := st.insertToken(ctx, r); !errors.Is(err, db.ErrConflict) {
		t.Errorf("insertToken with a taken hash: %v, want db.ErrConflict", err)
	}
	if _, _, err := st.refresh(ctx, "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("refresh of an unknown hash: %v, want db.ErrNotFound", err)
	}
	if _, err := st.family(ctx, "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("family of an unknown id: %v, want db.ErrNotFound", err)
	}
}

// TestStoreClaimRefreshRace: N racing claims of one refresh token, each
// with its own sealed response; exactly one wins and the row holds the
// winner's seal, so every loser reads the one child that was minted.
func TestStoreClaimRefreshRace(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	now := e.clock.Now()
	e.storedFamily(t, "f", e.user.ID, now.Add(time.Hour), now)
	winner := oneWinner(t, 20, func(i int) (bool, error) {
		return e.s.store.claimRefresh(ctx, "tok-f", now, []byte(fmt.Sprint("sealed-", i)), now.Add(time.Duration(i)*time.Second))
	})
	row, _, err := e.s.store.refresh(ctx, "tok-f")
	if err != nil {
		t.Fatal(err)
	}
	until := now.Add(time.Duration(winner) * time.Second)
	if string(row.ChildSealed) != fmt.Sprint("sealed-", winner) || row.UsedAt == nil || !row.UsedAt.Equal(now) ||
		row.ChildUntil == nil || !row.ChildUntil.Equal(until) {
		t.Fatalf("row after the race: %+v; want the seal and window of racer %d", row, winner)
	}
	if won, err := e.s.store.claimRefresh(ctx, "nope", now, nil, now); err != nil || won {
		t.Fatalf("claimRefresh of an unknown hash = %v, %v; want false", won, err)
	}
}

// TestStoreClaimRefreshAfterRevocation: Refresh reads the family, checks it
// is not revoked, mints, then claims. A revocation landing between the read
// and the claim must make the claim lose (STYLE.md §1.2: "used only if it
// is not used yet, not revoked and not expired").
func TestStoreClaimRefreshAfterRevocation(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	now := e.clock.Now()
	e.storedFamily(t, "f", e.user.ID, now.Add(time.Hour), now)
	if _, fam, err := e.s.store.refresh(ctx, "tok-f"); err != nil || fam.RevokedAt != nil {
		t.Fatalf("the refresher's read: %+v, %v", fam, err)
	}
	if revoked, err := e.s.store.revokeFamily(ctx, "f", now); err != nil || !revoked {
		t.Fatalf("revokeFamily = %v, %v", revoked, err)
	}
	if won, err := e.s.store.claimRefresh(ctx, "tok-f", now, []byte("sealed"), now.Add(time.Second)); err != nil || won {
		t.Fatalf("claimRefresh on a revoked family = %v, %v; want false", won, err)
	}
}

// TestStoreTouchFamilyOnlyThatFamily: touchFamily sets last use, address
// and agent of one family and nothing else.
func TestStoreTouchFamilyOnlyThatFamily(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	now := e.clock.Now()
	a, _ := e.storedFamily(t, "a", e.user.ID, now.Add(time.Hour), now)
	b, _ := e.storedFamily(t, "b", e.user.ID, now.Add(time.Hour), now)
	used := now.Add(3*time.Minute + time.Microsecond)
	if err := e.s.store.touchFamily(ctx, "a", used, "198.51.100.1", "app/3"); err != nil {
		t.Fatal(err)
	}
	want := *a
	want.LastUsedAt, want.IP, want.UserAgent = used, "198.51.100.1", "app/3"
	for id, w := range map[string]*familyRow{"a": &want, "b": b} {
		if got, err := e.s.store.family(ctx, id); err != nil || !reflect.DeepEqual(utc(got), w) {
			t.Errorf("family %s after touching a:\n got %+v, %v\nwant %+v", id, got, err, w)
		}
	}
}

// TestStoreRevokeFamilyRace: N racing revocations of one family (reuse
// detected on two replicas, the user revoking at once): exactly one reports
// it; the family's live access tokens are denylisted once; sealed children
// are dropped; the family's other state is untouched.
func TestStoreRevokeFamilyRace(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	e.storedFamily(t, "f", e.user.ID, now.Add(time.Hour), now)
	if won, err := st.claimRefresh(ctx, "tok-f", now, []byte("sealed"), now.Add(time.Minute)); err != nil || !won {
		t.Fatalf("claimRefresh = %v, %v", won, err)
	}
	child := &refreshRow{TokenHash: "child", FamilyID: "f", ParentHash: "tok-f", CreatedAt: now, IdleExpiresAt: now.Add(time.Hour),
		AccessJTI: "jti-child", AccessExpiresAt: now.Add(10 * time.Minute)}
	if err := st.insertToken(ctx, child); err != nil {
		t.Fatal(err)
	}
	oneWinner(t, 10, func(int) (bool, error) { return st.revokeFamily(ctx, "f", now) })
	fam, err := st.family(ctx, "f")
	if err != nil || fam.RevokedAt == nil || !fam.RevokedAt.Equal(now) {
		t.Fatalf("family after revocation: %+v, %v", fam, err)
	}
	for _, jti := range []string{"jti-f", "jti-child"} {
		if r, err := st.Revoked(ctx, jti); err != nil || !r {
			t.Errorf("%s denylisted: %v, %v; want true", jti, r, err)
		}
	}
	if c := e.count(t, "revoked_tokens", ""); c != 2 {
		t.Errorf("%d denylist entries, want 2", c)
	}
	if c := e.count(t, "refresh_tokens", "child_sealed IS NOT NULL OR child_until IS NOT NULL"); c != 0 {
		t.Errorf("%d sealed children survive the revocation", c)
	}
}

// TestStoreUserFamiliesFilterAndOrder: a user's families that are neither
// revoked nor expired (expires_at == now is expired), most recently used
// first, and never another user's.
func TestStoreUserFamiliesFilterAndOrder(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	if err := users.NewStore(e.db.Gorm).Create(ctx, &users.User{ID: "bob", Email: "bob@example.com", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	e.storedFamily(t, "older", e.user.ID, now.Add(time.Hour), now.Add(-2*time.Minute))
	e.storedFamily(t, "newest", e.user.ID, now.Add(time.Microsecond), now)
	e.storedFamily(t, "oldest", e.user.ID, now.Add(time.Hour), now.Add(-3*time.Minute))
	e.storedFamily(t, "expired", e.user.ID, now, now.Add(time.Minute))
	e.storedFamily(t, "revoked", e.user.ID, now.Add(time.Hour), now.Add(time.Minute))
	e.storedFamily(t, "bobs", "bob", now.Add(time.Hour), now.Add(time.Minute))
	if _, err := st.revokeFamily(ctx, "revoked", now); err != nil {
		t.Fatal(err)
	}
	rows, err := st.userFamilies(ctx, e.user.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.ID)
	}
	if want := []string{"newest", "older", "oldest"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("userFamilies = %v, want %v", got, want)
	}
}

// TestStorePurgeRefreshBoundariesAndLimit: families go once expires_at <=
// now, taking their tokens; sealed children are dropped once child_until
// <= now; at most limit of each per call; nothing younger.
func TestStorePurgeRefreshBoundariesAndLimit(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	st := e.s.store
	now := e.clock.Now()
	for i, d := range []time.Duration{-time.Microsecond, 0, time.Microsecond} { // the last one stays
		e.storedFamily(t, fmt.Sprint("f", i), e.user.ID, now.Add(d), now)
		e.storedFamily(t, fmt.Sprint("live", i), e.user.ID, now.Add(time.Hour), now)
		if won, err := st.claimRefresh(ctx, fmt.Sprint("tok-live", i), now, []byte("sealed"), now.Add(d)); err != nil || !won {
			t.Fatalf("claimRefresh live%d = %v, %v", i, won, err)
		}
	}
	for call, want := range []int64{2, 2, 0} {
		if n, err := st.purgeRefresh(ctx, now, 1); err != nil || n != want {
			t.Fatalf("call %d: purgeRefresh = %d, %v; want %d", call, n, err, want)
		}
	}
	if c, kept := e.count(t, "refresh_families", "id LIKE 'f%'"), e.count(t, "refresh_families", "id = 'f2'"); c != 1 || kept != 1 {
		t.Errorf("%d expiring families left (f2: %d), want only f2", c, kept)
	}
	if c := e.count(t, "refresh_tokens", "family_id IN ('f0', 'f1')"); c != 0 {
		t.Errorf("%d tokens of purged families survive", c)
	}
	if c, kept := e.count(t, "refresh_tokens", "child_sealed IS NOT NULL"), e.count(t, "refresh_tokens",
		"token_hash = 'tok-live2' AND child_sealed IS NOT NULL AND child_until IS NOT NULL"); c != 1 || kept != 1 {
		t.Errorf("%d sealed children left (tok-live2: %d), want only tok-live2's", c, kept)
	}
}

// TestStoreReadsTimesInUTC: what the account page shows of a grant
// (Service.Grants passes these times through) is in UTC on both dialects.
func TestStoreReadsTimesInUTC(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	now := e.clock.Now()
	e.storedFamily(t, "f", e.user.ID, now.Add(time.Hour), now)
	grants, err := e.s.Grants(context.Background(), e.user.ID)
	if err != nil || len(grants) != 1 {
		t.Fatalf("Grants = %+v, %v", grants, err)
	}
	if g := grants[0]; g.CreatedAt.Location() != time.UTC || g.LastUsedAt.Location() != time.UTC {
		t.Fatalf("grant times %v / %v, want UTC", g.CreatedAt, g.LastUsedAt)
	}
}

// TestStoreComparesInstantsNotZones: a now in another zone names the same
// instant and must select the same rows.
func TestStoreComparesInstantsNotZones(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	now := e.clock.Now()
	e.storedCode(t, "c", now.Add(time.Hour))
	if won, err := e.s.store.ClaimCode(ctx, "c", now.In(time.FixedZone("UTC+2", 2*3600)), "j", now, ""); err != nil || !won {
		t.Errorf("ClaimCode of a live code, now in UTC+2 = %v, %v; want true", won, err)
	}
	if err := e.s.store.RevokeJTI(ctx, "j", now); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.store.DeleteExpired(ctx, now.Add(time.Hour).In(time.FixedZone("UTC-5", -5*3600)), 10); err != nil || n != 1 {
		t.Errorf("DeleteExpired an hour past the entry, now in UTC-5 = %d, %v; want 1", n, err)
	}
}

// TestRefreshRacingRevocation: a refresh and a revocation of its grant run
// at once, many times. Whatever the interleaving, either the refresh fails
// or the access token it issued is denied: a revoked grant never leaves a
// live token behind (RFC 7009 §2.1).
func TestRefreshRacingRevocation(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	for i := range 20 {
		tok := e.family(t)
		fid := e.familyID(t, tok)
		var resp *Response
		errs := dbtest.Race(2, func(i int) (err error) {
			if i == 0 {
				resp, err = e.s.Refresh(ctx, e.client, tok, "", nil, Meta{})
				return err
			}
			return e.s.RevokeGrant(ctx, e.user.ID, fid)
		})
		rerr, verr := errs[0], errs[1]
		if verr != nil {
			t.Fatalf("round %d: RevokeGrant: %v", i, verr)
		}
		if rerr != nil {
			continue // the revocation won
		}
		if _, err := e.s.VerifyAccessToken(ctx, resp.AccessToken); err == nil {
			t.Fatalf("round %d: the refresh won, and its access token still verifies after the grant was revoked", i)
		}
	}
}
