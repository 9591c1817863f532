package users

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	return NewStore(dbtest.Open(t).Gorm)
}

// testUser returns a valid user whose fields are all set, so a round trip
// checks every column.
func testUser(t testing.TB, email string) *User {
	t.Helper()
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 891000, time.UTC)
	return &User{
		ID: id, Email: email, Name: "Ada Lovelace", EmailVerified: true,
		Roles: []string{"admin", "dev"}, PasswordHash: "$argon2id$placeholder",
		CreatedAt: at, UpdatedAt: at,
	}
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u := testUser(t, "Ada@Example.com")
	if err := s.Create(ctx, u); err != nil {
		t.Fatalf("Create: %v", err)
	}
	byID, err := s.ByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("ByID: %v", err)
	}
	if !reflect.DeepEqual(byID, u) {
		t.Fatalf("ByID = %+v\nwant   %+v", byID, u)
	}
	for _, email := range []string{"Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM"} {
		got, err := s.ByEmail(ctx, email)
		if err != nil || got.ID != u.ID {
			t.Errorf("ByEmail(%q) = %v, %v; want user %s", email, got, err, u.ID)
		}
	}
}

func TestStoreNotFound(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.ByID(ctx, "nobody"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("ByID: %v, want db.ErrNotFound", err)
	}
	if _, err := s.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("ByEmail: %v, want db.ErrNotFound", err)
	}
	if err := s.SetPasswordHash(ctx, "nobody", "x"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("SetPasswordHash: %v, want db.ErrNotFound", err)
	}
	if err := s.SetDisabled(ctx, "nobody", true); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("SetDisabled: %v, want db.ErrNotFound", err)
	}
}

func TestStoreConflictIgnoresCase(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.Create(ctx, testUser(t, "bob@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, testUser(t, "BOB@example.COM")); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("second Create: %v, want db.ErrConflict", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
}

func TestStoreListOrderAndEmptyRoles(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, email := range []string{"carol@example.com", "Alice@example.com", "bob@example.com"} {
		u := testUser(t, email)
		u.Roles = nil
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range list {
		got = append(got, u.Email)
		if u.Roles == nil || len(u.Roles) != 0 {
			t.Errorf("%s: roles %#v, want empty non-nil", u.Email, u.Roles)
		}
	}
	if want := []string{"Alice@example.com", "bob@example.com", "carol@example.com"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List order %v, want %v", got, want)
	}
	if n, err := s.Count(ctx); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3", n, err)
	}
}

func TestStoreUpdates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	u := testUser(t, "dan@example.com")
	if err := s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, "new-hash"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	got, err := s.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "new-hash" || !got.Disabled || !got.UpdatedAt.After(u.UpdatedAt) || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("after updates: %+v", got)
	}
	// The conditional swap refuses a stale old hash: a reset wins over a
	// rehash that read the row before it.
	if err := s.swapPasswordHash(ctx, u.ID, u.PasswordHash, "rehash"); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("swap with stale hash: %v, want db.ErrConflict", err)
	}
	if err := s.swapPasswordHash(ctx, u.ID, "new-hash", "rehash"); err != nil {
		t.Fatalf("swap with current hash: %v", err)
	}
}

func TestStoreJoinsTransaction(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	s := NewStore(d.Gorm)
	rollback := errors.New("rollback")
	err := db.Tx(ctx, d.Gorm, func(ctx context.Context) error {
		if err := s.Create(ctx, testUser(t, "eve@example.com")); err != nil {
			return err
		}
		if n, err := s.Count(ctx); err != nil || n != 1 {
			t.Errorf("Count inside the transaction = %d, %v; want 1", n, err)
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("Tx: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count after rollback = %d, %v; want 0", n, err)
	}
}

// TestOnlyStoreImportsGORM holds the house rule at file level, which a
// package-level `go list -deps` check cannot see.
func TestOnlyStoreImportsGORM(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "gorm.io/") && name != "store.go" {
				t.Errorf("%s imports %s; only store.go may", name, path)
			}
		}
	}
}
