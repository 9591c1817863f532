package clients

import (
	"errors"
	"testing"
	"time"

	"idp/db/dbtest"
)

// TestRegistrationTokenRace: racing registrations with a token's last use
// register exactly one client; the others get ErrBadToken and store
// nothing.
func TestRegistrationTokenRace(t *testing.T) {
	svc, d := newService(t)
	ctx := t.Context()
	token, _, err := svc.CreateRegistrationToken(ctx, time.Hour, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	const racers = 8
	errs := dbtest.Race(racers, func(i int) error {
		_, _, _, err := svc.Register(ctx, Spec{ID: "racer-" + string(rune('a'+i)), RedirectURIs: []string{goodRedirect}}, token)
		return err
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrBadToken):
			t.Fatalf("racer: %v", err)
		}
	}
	if won != 1 || countClients(t, d) != 1 {
		t.Fatalf("%d registrations won, %d clients stored; want 1 and 1", won, countClients(t, d))
	}
}

// TestRegisteredToken: the registration access token opens only its own
// client, compared whole.
func TestRegisteredToken(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	a, _, aTok, err := svc.Register(ctx, Spec{ID: "a", RedirectURIs: []string{goodRedirect}}, "")
	if err != nil || a.Registration != RegisteredOpen || a.RegistrationTokenHash == nil {
		t.Fatalf("open registration: %+v, %v", a, err)
	}
	if _, _, _, err := svc.Register(ctx, Spec{ID: "b", RedirectURIs: []string{goodRedirect}}, ""); err != nil {
		t.Fatal(err)
	}
	if c, err := svc.Registered(ctx, "a", aTok); err != nil || c.ID != "a" {
		t.Fatalf("own token: %v", err)
	}
	for _, tc := range []struct{ id, tok string }{{"b", aTok}, {"a", aTok[:42]}, {"a", ""}, {"ghost", aTok}} {
		if _, err := svc.Registered(ctx, tc.id, tc.tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s with %.8s…: %v", tc.id, tc.tok, err)
		}
	}
	if _, _, err := svc.Create(ctx, Spec{ID: "admin-made", RedirectURIs: []string{goodRedirect}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Registered(ctx, "admin-made", ""); !errors.Is(err, ErrBadToken) {
		t.Errorf("a client an admin made has no registration token: %v", err)
	}
}
