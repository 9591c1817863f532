package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
	"idp/oauth"
	"idp/sessions"
	"idp/users"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

const ttl = 24 * time.Hour

// env is a session service on a fresh database (SQLite, or PostgreSQL with
// IDP_TEST_POSTGRES) with two users for the foreign key.
type env struct {
	svc        *sessions.Service
	db         *db.DB
	clock      *clock
	ada, grace string // user ids
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := dbtest.Open(t)
	c := &clock{t: time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)}
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, c.Now)
	e := &env{svc: sessions.NewService(sessions.NewStore(d.Gorm), ttl, c.Now), db: d, clock: c}
	for _, p := range []struct {
		id    *string
		email string
	}{{&e.ada, "ada@example.com"}, {&e.grace, "grace@example.com"}} {
		u, err := us.Create(context.Background(), p.email, "correct horse battery staple", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		*p.id = u.ID
	}
	return e
}

func (e *env) start(t *testing.T, userID string) (string, *sessions.Session) {
	t.Helper()
	token, s, err := e.svc.Start(context.Background(), userID, []string{"pwd"}, "192.0.2.1", "test-agent")
	if err != nil {
		t.Fatal(err)
	}
	return token, s
}

func TestStartAndLookup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, s := e.start(t, e.ada)
	now := e.clock.Now()
	if len(token) < 43 || s.ID == "" || s.ID == token || s.UserID != e.ada || !s.AuthTime.Equal(now) ||
		!s.ExpiresAt.Equal(now.Add(ttl)) || s.IP != "192.0.2.1" || s.UserAgent != "test-agent" {
		t.Fatalf("Start: token %q, session %+v", token, s)
	}
	got, err := e.svc.Lookup(ctx, token)
	if err != nil || got.ID != s.ID || got.UserID != e.ada || !got.AuthTime.Equal(now) {
		t.Fatalf("Lookup: %+v, %v", got, err)
	}
	other, _ := e.start(t, e.ada)
	if other == token {
		t.Error("two sign-ins got the same secret")
	}
	for _, bad := range []string{"", "nope", s.ID, token + "x", strings.Repeat("a", 129), oauth.HashSecret(token)} {
		if _, err := e.svc.Lookup(ctx, bad); !errors.Is(err, sessions.ErrNoSession) {
			t.Errorf("Lookup(%.20q) = %v, want ErrNoSession", bad, err)
		}
	}
}

func TestSessionExpires(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, _ := e.start(t, e.ada)
	e.clock.Advance(ttl - time.Second)
	if _, err := e.svc.Lookup(ctx, token); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	if l, _ := e.svc.List(ctx, e.ada); len(l) != 1 {
		t.Errorf("List before expiry: %d sessions", len(l))
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.Lookup(ctx, token); !errors.Is(err, sessions.ErrNoSession) {
		t.Errorf("at expiry: %v, want ErrNoSession", err)
	}
	if l, _ := e.svc.List(ctx, e.ada); len(l) != 0 {
		t.Errorf("List shows %d expired sessions", len(l))
	}
	if n, err := e.svc.Store().DeleteExpired(ctx, e.clock.Now(), 100); err != nil || n != 1 {
		t.Errorf("DeleteExpired = %d, %v", n, err)
	}
}

func TestLookupRecordsActivity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, s := e.start(t, e.ada)
	e.clock.Advance(30 * time.Second)
	if got, _ := e.svc.Lookup(ctx, token); !got.LastSeenAt.Equal(s.CreatedAt) {
		t.Errorf("touched within a minute: %v", got.LastSeenAt)
	}
	e.clock.Advance(2 * time.Minute)
	_, _ = e.svc.Lookup(ctx, token)
	stored, err := e.svc.Store().ByID(ctx, s.ID)
	if err != nil || !stored.LastSeenAt.Equal(e.clock.Now()) || !stored.AuthTime.Equal(s.AuthTime) {
		t.Errorf("after activity: %+v, %v", stored, err)
	}
}

func TestEndOneSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, s := e.start(t, e.ada)
	keep, _ := e.start(t, e.ada)
	// Someone else cannot end it, and learns nothing from trying.
	if err := e.svc.End(ctx, e.grace, s.ID); !errors.Is(err, sessions.ErrNoSession) {
		t.Errorf("End by another user: %v, want ErrNoSession", err)
	}
	if _, err := e.svc.Lookup(ctx, token); err != nil {
		t.Fatalf("another user's End ended it: %v", err)
	}
	if err := e.svc.End(ctx, e.ada, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Lookup(ctx, token); !errors.Is(err, sessions.ErrNoSession) {
		t.Errorf("after End: %v", err)
	}
	if err := e.svc.End(ctx, e.ada, s.ID); !errors.Is(err, sessions.ErrNoSession) {
		t.Errorf("End twice: %v", err)
	}
	if _, err := e.svc.Lookup(ctx, keep); err != nil {
		t.Errorf("End ended the user's other session: %v", err)
	}
}

func TestEndAllAndList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var adaTokens []string
	var ids []string
	for range 3 {
		tok, s := e.start(t, e.ada)
		adaTokens, ids = append(adaTokens, tok), append(ids, s.ID)
		e.clock.Advance(time.Minute)
	}
	graceToken, _ := e.start(t, e.grace)
	list, err := e.svc.List(ctx, e.ada)
	if err != nil || len(list) != 3 {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	for i, s := range list { // newest first
		if s.ID != ids[len(ids)-1-i] || s.UserID != e.ada {
			t.Errorf("List[%d] = %s, want %s", i, s.ID, ids[len(ids)-1-i])
		}
	}
	if err := e.svc.EndAll(ctx, e.ada); err != nil {
		t.Fatal(err)
	}
	for _, tok := range adaTokens {
		if _, err := e.svc.Lookup(ctx, tok); !errors.Is(err, sessions.ErrNoSession) {
			t.Errorf("a session survived EndAll: %v", err)
		}
	}
	if l, _ := e.svc.List(ctx, e.ada); len(l) != 0 {
		t.Errorf("List after EndAll: %d", len(l))
	}
	if _, err := e.svc.Lookup(ctx, graceToken); err != nil {
		t.Errorf("EndAll ended another user's session: %v", err)
	}
	if err := e.svc.EndAll(ctx, e.ada); err != nil {
		t.Errorf("EndAll with nothing to end: %v", err)
	}
}

// TestEndOthers: every session of the user but the kept one ends; the kept
// one and other users' sessions live on.
func TestEndOthers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keepToken, keep := e.start(t, e.ada)
	var others []string
	for range 2 {
		tok, _ := e.start(t, e.ada)
		others = append(others, tok)
	}
	graceToken, _ := e.start(t, e.grace)
	if n, err := e.svc.EndOthers(ctx, e.ada, keep.ID); err != nil || n != 2 {
		t.Fatalf("EndOthers = %d, %v; want 2", n, err)
	}
	for _, tok := range others {
		if _, err := e.svc.Lookup(ctx, tok); !errors.Is(err, sessions.ErrNoSession) {
			t.Errorf("another session survived: %v", err)
		}
	}
	for _, tok := range []string{keepToken, graceToken} {
		if _, err := e.svc.Lookup(ctx, tok); err != nil {
			t.Errorf("a session that should live ended: %v", err)
		}
	}
	if n, err := e.svc.EndOthers(ctx, e.ada, keep.ID); err != nil || n != 0 {
		t.Fatalf("EndOthers again = %d, %v; want 0", n, err)
	}
}

// TestSecretStoredHashed: the cookie secret appears nowhere in the row; a
// database dump does not let anyone ride a session.
func TestSecretStoredHashed(t *testing.T) {
	e := newEnv(t)
	token, s := e.start(t, e.ada)
	var rows []map[string]any
	if err := e.db.Gorm.Table("sessions").Find(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("rows %d, %v", len(rows), err)
	}
	for col, v := range rows[0] {
		var text string
		if b, ok := v.([]byte); ok {
			text = string(b)
		} else {
			text = fmt.Sprint(v)
		}
		if strings.Contains(text, token) {
			t.Errorf("column %s holds the raw secret", col)
		}
	}
	if rows[0]["token_hash"] == nil || fmt.Sprint(rows[0]["token_hash"]) != oauth.HashSecret(token) || s.TokenHash != oauth.HashSecret(token) {
		t.Errorf("token_hash %v, want the SHA-256 of the secret", rows[0]["token_hash"])
	}
}
