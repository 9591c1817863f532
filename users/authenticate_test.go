package users

import (
	"context"
	"errors"
	"strings"
	"testing"

	"idp/db"
)

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := newService(t, cheapParams)
	u := mustCreate(t, s, "Heidi@Example.com", "tulip-orbit-27")
	for _, email := range []string{"Heidi@Example.com", "heidi@example.com", " HEIDI@example.com "} {
		got, err := s.Authenticate(ctx, email, "tulip-orbit-27")
		if err != nil || got.ID != u.ID {
			t.Errorf("Authenticate(%q) = %v, %v; want user %s", email, got, err, u.ID)
		}
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	ctx := context.Background()
	s := newService(t, cheapParams)
	mustCreate(t, s, "ivan@example.com", "tulip-orbit-27")
	mustCreate(t, s, "judy@example.com", "tulip-orbit-27")
	if err := s.Disable(ctx, "judy@example.com"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, password string
		disabled              bool // the error says so
	}{
		{"wrong password", "ivan@example.com", "password124", false},
		{"empty password", "ivan@example.com", "", false},
		{"unknown user", "mallory@example.com", "tulip-orbit-27", false},
		{"empty email", "", "tulip-orbit-27", false},
		{"overlong password", "ivan@example.com", "tulip-orbit-27" + strings.Repeat("x", 1024), false},
		// A disabled account says so only to someone who knows its password.
		{"disabled, wrong password", "judy@example.com", "password124", false},
		{"disabled, right password", "judy@example.com", "tulip-orbit-27", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tt.email, tt.password)
			if u != nil || !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("Authenticate = %v, %v; want nil, ErrInvalidCredentials", u, err)
			}
			if got := strings.Contains(err.Error(), "disabled"); got != tt.disabled {
				t.Errorf("error %q: mentions disabled = %v, want %v", err, got, tt.disabled)
			}
		})
	}
}

func TestAuthenticateCorruptHashLooksLikeWrongPassword(t *testing.T) {
	ctx := context.Background()
	s := newService(t, cheapParams)
	u := mustCreate(t, s, "kim@example.com", "tulip-orbit-27")
	if err := s.Store().SetPasswordHash(ctx, u.ID, "$argon2id$v=19$m=2097152,t=1,p=1$xx$yy"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "kim@example.com", "tulip-orbit-27"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("Authenticate: %v, want ErrInvalidCredentials", err)
	}
}

// TestAuthenticateUpgradesHash: a hash made with weaker parameters is
// replaced by one with the Service's parameters at the next sign-in.
func TestAuthenticateUpgradesHash(t *testing.T) {
	ctx := context.Background()
	weak := Params{Memory: 8192, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	old := newService(t, weak)
	u := mustCreate(t, old, "leo@example.com", "tulip-orbit-27")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("weak hash %q", u.PasswordHash)
	}
	s := NewService(old.Store(), DefaultParams, nil)
	got, err := s.Authenticate(ctx, "leo@example.com", "tulip-orbit-27")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Store().ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("stored hash %q was not upgraded to DefaultParams", stored.PasswordHash)
	}
	if got.PasswordHash != stored.PasswordHash {
		t.Error("returned user does not carry the upgraded hash")
	}
	if _, err := s.Authenticate(ctx, "leo@example.com", "tulip-orbit-27"); err != nil {
		t.Fatalf("sign-in after upgrade: %v", err)
	}
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	s := newService(t, cheapParams)
	mustCreate(t, s, "mia@example.com", "tulip-orbit-27")
	if err := s.SetPassword(ctx, "mia@example.com", "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak SetPassword: %v, want ErrWeakPassword", err)
	}
	if err := s.SetPassword(ctx, "MIA@example.com", "new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "mia@example.com", "tulip-orbit-27"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password: %v, want ErrInvalidCredentials", err)
	}
	if _, err := s.Authenticate(ctx, "mia@example.com", "new password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody@example.com", "new password"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown SetPassword: %v, want db.ErrNotFound", err)
	}
}

func TestDisableUnknown(t *testing.T) {
	s := newService(t, cheapParams)
	if err := s.Disable(context.Background(), "nobody@example.com"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("Disable: %v, want db.ErrNotFound", err)
	}
}

// BenchmarkAuthenticate shows that a sign-in costs the same whether the
// email exists (wrong password) or not: compare the two ns/op figures.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	s := newService(b, DefaultParams)
	mustCreate(b, s, "bench@example.com", "tulip-orbit-27")
	// Warm the dummy hash so its one-time cost stays out of the figures.
	if _, err := s.Authenticate(ctx, "warm@example.com", "x"); !errors.Is(err, ErrInvalidCredentials) {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, email string }{
		{"known", "bench@example.com"},
		{"unknown", "nobody@example.com"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Authenticate(ctx, bc.email, "wrong password"); !errors.Is(err, ErrInvalidCredentials) {
					b.Fatal(err)
				}
			}
		})
	}
}
