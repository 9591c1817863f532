package users

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/db"
)

// clock is a fixed time in a non-UTC zone with nanoseconds, so tests see
// that the Service stores UTC truncated to microseconds.
var clock = time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.FixedZone("CEST", 2*3600))

func newService(t testing.TB, p Params) *Service {
	t.Helper()
	return NewService(newStore(t), p, func() time.Time { return clock })
}

func mustCreate(t testing.TB, s *Service, email, password string, roles ...string) *User {
	t.Helper()
	u, err := s.Create(context.Background(), email, password, "Test User", roles)
	if err != nil {
		t.Fatalf("Create(%q): %v", email, err)
	}
	return u
}

func countUsers(t testing.TB, s *Service) int64 {
	t.Helper()
	n, err := s.Store().Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreate(t *testing.T) {
	s := newService(t, cheapParams)
	u := mustCreate(t, s, "  Grace@Example.com ", "tulip-orbit-27", " admin", "admin", "", "  ", "viewer ")
	want := clock.UTC().Truncate(time.Microsecond)
	if u.Email != "Grace@Example.com" || u.Name != "Test User" || !u.CreatedAt.Equal(want) ||
		u.CreatedAt.Location() != time.UTC || !u.UpdatedAt.Equal(want) || u.Disabled || u.EmailVerified {
		t.Fatalf("Create returned %+v", u)
	}
	if !reflect.DeepEqual(u.Roles, []string{"admin", "viewer"}) || !u.HasRole("admin") || u.HasRole("Admin") {
		t.Errorf("roles %q, want [admin viewer]", u.Roles)
	}
	if ok, _, err := VerifyPassword(u.PasswordHash, "tulip-orbit-27", cheapParams); !ok || err != nil {
		t.Errorf("stored hash does not verify: %v", err)
	}
	stored, err := s.Store().ByID(context.Background(), u.ID)
	if err != nil || !reflect.DeepEqual(stored, u) {
		t.Fatalf("ByID = %+v, %v\nwant %+v", stored, err, u)
	}
}

func TestCreateIDsRandomAndDistinct(t *testing.T) {
	s := newService(t, cheapParams)
	seen := map[string]bool{}
	for i := range 20 {
		u := mustCreate(t, s, "user"+string(rune('a'+i))+"@example.com", "tulip-orbit-27")
		raw, err := base64.RawURLEncoding.DecodeString(u.ID)
		if err != nil || len(raw) != 16 {
			t.Fatalf("id %q is not 16 bytes of base64url: %v", u.ID, err)
		}
		if seen[u.ID] {
			t.Fatalf("id %q repeated", u.ID)
		}
		seen[u.ID] = true
	}
}

func TestCreateDuplicateEmailIgnoresCase(t *testing.T) {
	s := newService(t, cheapParams)
	mustCreate(t, s, "Alice@Example.com", "tulip-orbit-27")
	_, err := s.Create(context.Background(), "alice@example.COM", "other-password", "", nil)
	if !errors.Is(err, ErrEmailTaken) || !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate Create: %v, want ErrEmailTaken and db.ErrConflict", err)
	}
	if n := countUsers(t, s); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestCreateConcurrentDuplicates races two creations of one address: the
// unique index must let exactly one through on either dialect.
func TestCreateConcurrentDuplicates(t *testing.T) {
	s := newService(t, cheapParams)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, email := range []string{"race@example.com", "RACE@example.com"} {
		wg.Go(func() {
			_, errs[i] = s.Create(context.Background(), email, "tulip-orbit-27", "", nil)
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("errors %v and %v: want exactly one success", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrEmailTaken) {
			t.Fatalf("loser got %v, want ErrEmailTaken", err)
		}
	}
	if n := countUsers(t, s); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

func TestCreateRejectsInput(t *testing.T) {
	tests := []struct {
		name, email, password string
		want                  error
	}{
		{"empty email", "", "tulip-orbit-27", ErrInvalidEmail},
		{"no at sign", "not-an-email", "tulip-orbit-27", ErrInvalidEmail},
		{"display name", "Alice <alice@example.com>", "tulip-orbit-27", ErrInvalidEmail},
		{"angle brackets", "<alice@example.com>", "tulip-orbit-27", ErrInvalidEmail},
		{"two addresses", "a@example.com, b@example.com", "tulip-orbit-27", ErrInvalidEmail},
		{"comment", "alice@example.com (Alice)", "tulip-orbit-27", ErrInvalidEmail},
		{"too long", strings.Repeat("a", 250) + "@example.com", "tulip-orbit-27", ErrInvalidEmail},
		{"empty password", "a@example.com", "", ErrWeakPassword},
		{"short password", "a@example.com", "1234567", ErrWeakPassword},
		{"whitespace password", "a@example.com", " \t\n \t\n  ", ErrWeakPassword},
		{"long password", "a@example.com", strings.Repeat("x", 1025), ErrWeakPassword},
	}
	s := newService(t, cheapParams)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Create(context.Background(), tt.email, tt.password, "", nil); !errors.Is(err, tt.want) {
				t.Fatalf("Create: %v, want %v", err, tt.want)
			}
			if n := countUsers(t, s); n != 0 {
				t.Fatalf("%d rows written, want 0", n)
			}
		})
	}
}

func TestCreatePasswordBounds(t *testing.T) {
	s := newService(t, cheapParams)
	mustCreate(t, s, "min@example.com", "7#kq2Lm9")
	mustCreate(t, s, "max@example.com", strings.Repeat("x", 1024))
	mustCreate(t, s, "spaces@example.com", "  pass  word  ")
}
