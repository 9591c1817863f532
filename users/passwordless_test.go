package users

import (
	"context"
	"errors"
	"testing"
)

// TestCreatePasswordless: a user made without a password has none, and
// no password (the empty one included) signs in to it.
func TestCreatePasswordless(t *testing.T) {
	ctx := context.Background()
	s := newService(t, cheapParams)
	u, err := s.CreatePasswordless(ctx, " fed@example.com ", "Fed", []string{"user"})
	if err != nil {
		t.Fatal(err)
	}
	if u.HasPassword() || u.Email != "fed@example.com" {
		t.Fatalf("user %+v: want fed@example.com without a password", u)
	}
	if got, err := s.Store().ByID(ctx, u.ID); err != nil || got.HasPassword() {
		t.Fatalf("stored %+v, %v", got, err)
	}
	for _, pw := range []string{"", "violet tangerine lighthouse 42"} {
		if _, err := s.Authenticate(ctx, "fed@example.com", pw); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q): %v, want ErrInvalidCredentials", pw, err)
		}
	}
	if _, err := s.CreatePasswordless(ctx, "not an address", "", nil); err == nil {
		t.Error("a bad address was accepted")
	}
	if _, err := s.CreatePasswordless(ctx, "FED@example.com", "", nil); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("a taken address: %v", err)
	}
	// Once a password is set, it counts and signs in.
	if err := s.SetPassword(ctx, u.Email, "violet tangerine lighthouse 42"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, u.Email, "violet tangerine lighthouse 42"); err != nil || !got.HasPassword() {
		t.Fatalf("after SetPassword: %+v, %v", got, err)
	}
	invited, err := s.CreateInvited(ctx, "inv@example.com", "", nil)
	if err != nil || !invited.HasPassword() {
		t.Fatalf("an invited user's random hash: %+v, %v", invited, err)
	}
}
