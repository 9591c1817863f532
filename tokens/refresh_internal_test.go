package tokens

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"idp/clients"
	"idp/db"
	"idp/db/dbtest"
	"idp/oauth"
	"idp/users"
)

// refreshEnv is a Service on a fresh database (SQLite, or PostgreSQL with
// IDP_TEST_POSTGRES) with a user and a client for the foreign keys.
type refreshEnv struct {
	s      *Service
	db     *db.DB
	clock  *FakeClock
	user   *users.User
	client *clients.Client
}

func newRefreshEnv(t testing.TB, cfg Config) *refreshEnv {
	t.Helper()
	ctx := context.Background()
	d := dbtest.Open(t)
	clock := NewFakeClock()
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, clock.Now)
	u, err := us.Create(ctx, "ada@example.com", "correct horse battery staple", "Ada", nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := clients.NewService(clients.NewStore(d.Gorm), make([]byte, 32), clock.Now)
	c, _, err := cs.Create(ctx, clients.Spec{ID: "app", RedirectURIs: []string{"https://app.example/cb"}, SigningAlg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer, cfg.Now = "https://idp.example", clock.Now
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = 10 * time.Minute
	}
	if cfg.SealKey == nil {
		cfg.SealKey = bytes.Repeat([]byte{7}, 32)
	}
	key := NewThrowawayKey(t, "k")
	return &refreshEnv{s: NewService(NewStore(d.Gorm), key, key, us.Store(), cfg), db: d, clock: clock, user: u, client: c}
}

// family stores a new family with its first refresh token, as a code
// exchange with offline_access would, and returns the token.
func (e *refreshEnv) family(t testing.TB) string {
	t.Helper()
	now := e.clock.Now()
	g := &Grant{ClientID: e.client.ID, UserID: e.user.ID, Scopes: []string{"openid", "offline_access"},
		AuthTime: now, JTI: oauth.NewSecret(16), AccessExpiresAt: now.Add(e.s.cfg.AccessTokenTTL),
		RefreshFamily: oauth.NewSecret(16), RefreshToken: oauth.NewSecret(32)}
	f, first := e.s.newFamily(g, now, Meta{})
	if err := e.s.store.createFamily(context.Background(), f, first); err != nil {
		t.Fatal(err)
	}
	return g.RefreshToken
}

func (e *refreshEnv) count(t *testing.T, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	tx := e.db.Gorm.Table(table)
	if where != "" {
		tx = tx.Where(where, args...)
	}
	if err := tx.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

// TestSealBindsParent: a sealed child opens only under the hash of the
// token it was minted from, and only with the right key.
func TestSealBindsParent(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	resp := &Response{AccessToken: "a", RefreshToken: "r", TokenType: "Bearer", ExpiresIn: 600}
	sealed, err := e.s.seal(resp, "parent")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.s.unseal(sealed, "parent")
	if err != nil || *got != *resp {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := e.s.unseal(sealed, "another"); err == nil {
		t.Fatal("a sealed child opened under another parent")
	}
	if _, err := e.s.unseal(sealed[:5], "parent"); err == nil {
		t.Fatal("a truncated seal opened")
	}
	other := *e.s
	other.cfg.SealKey = bytes.Repeat([]byte{8}, 32)
	if _, err := other.unseal(sealed, "parent"); err == nil {
		t.Fatal("a sealed child opened with another key")
	}
	other.cfg.SealKey = []byte("short")
	if _, err := other.seal(resp, "parent"); err == nil {
		t.Fatal("sealed with a short key")
	}
}

// TestRefreshRaceServiceLevel: 50 concurrent Refresh calls on one token
// mint one child; with a grace window all receive it byte for byte.
func TestRefreshRaceServiceLevel(t *testing.T) {
	t.Parallel()
	for _, grace := range []time.Duration{10 * time.Second, 0} {
		t.Run(grace.String(), func(t *testing.T) {
			e := newRefreshEnv(t, Config{ReuseGrace: grace})
			token := e.family(t)
			const racers = 50
			resps := make([]*Response, racers)
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() { resps[i], errs[i] = e.s.Refresh(context.Background(), e.client, token, "", nil, Meta{}) })
			}
			wg.Wait()
			var won []*Response
			for i := range racers {
				if errs[i] != nil {
					wantCode(t, errs[i], "invalid_grant")
					continue
				}
				won = append(won, resps[i])
			}
			if grace > 0 && len(won) != racers || grace == 0 && len(won) != 1 {
				t.Fatalf("%d racers got tokens (grace %s)", len(won), grace)
			}
			for _, r := range won[1:] {
				if *r != *won[0] {
					t.Fatal("racers received different children")
				}
			}
			if n := e.count(t, "refresh_tokens", "parent_hash = ?", oauth.HashSecret(token)); n != 1 {
				t.Fatalf("%d children minted, want 1", n)
			}
			if n := e.count(t, "refresh_tokens", ""); n != 2 {
				t.Fatalf("%d refresh tokens stored, want 2", n)
			}
		})
	}
}

// TestRevokeFamilyDeniesThroughLeeway: revoking a family denylists each
// access token it issued that idp would still accept (exp + leeway), for
// exactly that long, and reports the revocation once.
func TestRevokeFamilyDeniesThroughLeeway(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{ReuseGrace: time.Second})
	ctx := context.Background()
	first := e.family(t)
	e.clock.Advance(9 * time.Minute)
	child, err := e.s.Refresh(ctx, e.client, first, "", nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	// The first access token is 20 s past exp: dead for a verifier without
	// leeway, alive for idp's; the second has 9 minutes left.
	e.clock.Advance(80 * time.Second)
	fam, err := e.s.store.family(ctx, e.familyID(t, first))
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := e.s.store.revokeFamily(ctx, fam.ID, e.clock.Now())
	if err != nil || !revoked {
		t.Fatalf("revokeFamily: %v, %v", revoked, err)
	}
	var rows []revokedRow
	if err := e.db.Gorm.Order("expires_at").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d denylist entries, want 2", len(rows))
	}
	start := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	for i, want := range []time.Time{start.Add(10*time.Minute + leeway*time.Second),
		start.Add(19*time.Minute + leeway*time.Second)} {
		if !rows[i].ExpiresAt.Equal(want) {
			t.Errorf("entry %d expires %s, want %s", i, rows[i].ExpiresAt, want)
		}
	}
	if _, err := e.s.VerifyAccessToken(ctx, child.AccessToken); err == nil {
		t.Fatal("the family's access token still verifies")
	}
	if again, err := e.s.store.revokeFamily(ctx, fam.ID, e.clock.Now()); err != nil || again {
		t.Fatalf("second revocation: %v, %v", again, err)
	}
	if n := e.count(t, "revoked_tokens", ""); n != 2 {
		t.Fatalf("%d denylist entries after revoking twice", n)
	}
}

func (e *refreshEnv) familyID(t *testing.T, token string) string {
	t.Helper()
	row, _, err := e.s.store.refresh(context.Background(), oauth.HashSecret(token))
	if err != nil {
		t.Fatal(err)
	}
	return row.FamilyID
}

// TestRefreshIdleExpiry: with an idle limit, a token unused for that long
// is refused although its family is young; using it in time renews the
// limit for the child, never past the family's absolute expiry.
func TestRefreshIdleExpiry(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{RefreshTokenTTL: 3 * time.Hour, RefreshIdleTTL: time.Hour})
	ctx := context.Background()
	token := e.family(t)
	for range 3 {
		e.clock.Advance(59 * time.Minute)
		r, err := e.s.Refresh(ctx, e.client, token, "", nil, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		token = r.RefreshToken
	}
	// 177 minutes in: the child's idle limit is capped at the family's
	// absolute expiry, 180, not 237.
	row, fam, err := e.s.store.refresh(ctx, oauth.HashSecret(token))
	if err != nil || !row.IdleExpiresAt.Equal(fam.ExpiresAt) {
		t.Fatalf("idle expiry %s, family expiry %s (%v)", row.IdleExpiresAt, fam.ExpiresAt, err)
	}
	e.clock.Advance(3 * time.Minute)
	_, err = e.s.Refresh(ctx, e.client, token, "", nil, Meta{})
	wantCode(t, err, "invalid_grant")
	if n := e.count(t, "refresh_families", "revoked_at IS NOT NULL"); n != 0 {
		t.Fatal("an expired token revoked its family")
	}

	fresh := e.family(t)
	e.clock.Advance(2 * time.Hour)
	r, err := e.s.Refresh(ctx, e.client, fresh, "", nil, Meta{})
	if r != nil || err == nil {
		t.Fatal("refreshed a token idle for two hours")
	}
	wantCode(t, err, "invalid_grant")
	row, fam, err = e.s.store.refresh(ctx, oauth.HashSecret(fresh))
	if err != nil || row.UsedAt != nil || fam.RevokedAt != nil {
		t.Fatalf("a refused refresh changed the rows: %+v %+v %v", row, fam, err)
	}
}

// TestRefreshTouchesFamily: a refresh records the family's last use, its
// address and user agent; within a minute of the last record, from the
// same address and agent, it skips that write, and the minute-grained
// "last used" stays right.
func TestRefreshTouchesFamily(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	token := e.family(t)
	start := e.clock.Now()
	lastUse := func() (time.Time, string, string) {
		t.Helper()
		_, fam, err := e.s.store.refresh(ctx, oauth.HashSecret(token))
		if err != nil {
			t.Fatal(err)
		}
		return fam.LastUsedAt, fam.IP, fam.UserAgent
	}
	step := func(d time.Duration, m Meta) {
		t.Helper()
		e.clock.Advance(d)
		r, err := e.s.Refresh(ctx, e.client, token, "", nil, m)
		if err != nil {
			t.Fatal(err)
		}
		token = r.RefreshToken
	}
	a := Meta{IP: "192.0.2.1", UserAgent: "app/1"}
	step(10*time.Second, a) // the family was created with no address: recorded
	if at, ip, ua := lastUse(); !at.Equal(start.Add(10*time.Second)) || ip != a.IP || ua != a.UserAgent {
		t.Fatalf("first refresh recorded %s %q %q", at, ip, ua)
	}
	step(30*time.Second, a) // same place, 30 s later: not rewritten
	if at, _, _ := lastUse(); !at.Equal(start.Add(10 * time.Second)) {
		t.Fatalf("refresh 30 s after the last record rewrote it: %s", at)
	}
	step(31*time.Second, a) // 61 s after the record: rewritten
	if at, _, _ := lastUse(); !at.Equal(start.Add(71 * time.Second)) {
		t.Fatalf("refresh a minute after the last record: last use %s", at)
	}
	b := Meta{IP: "198.51.100.7", UserAgent: "app/1"}
	step(time.Second, b) // a new address is recorded at once
	if at, ip, _ := lastUse(); !at.Equal(start.Add(72*time.Second)) || ip != b.IP {
		t.Fatalf("refresh from a new address: %s %q", at, ip)
	}
}
