package keys

import (
	"context"
	"errors"
	"strings"
	"testing"

	"idp/db"
)

func TestRevokeActive(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	st := byState(mustList(t, m))
	old, next := st[[2]string{RS256, StateActive}], st[[2]string{RS256, StateNext}]
	tok, err := m.Sign(ctx, RS256, []byte(`{"sub":"x"}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}

	k, err := m.Revoke(ctx, old.KID)
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if k.State != StateRevoked || k.HasPrivate || k.NotAfter == nil || !k.NotAfter.Equal(e.clock.Now()) {
		t.Fatalf("revoked key: %+v", k)
	}
	// Seen at once by this process, without advancing the clock.
	j, err := m.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(j.JSON), old.KID) {
		t.Fatal("revoked key is still in the JWKS")
	}
	if _, _, err := m.Verify(ctx, tok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verify of a token by the revoked key: %v, want ErrUnknownKey", err)
	}

	st = byState(mustList(t, m))
	act := st[[2]string{RS256, StateActive}]
	if act.KID == old.KID || act.KID == next.KID || !act.HasPrivate || act.ActivatedAt == nil {
		t.Fatalf("replacement active key: %+v", act)
	}
	if st[[2]string{RS256, StateNext}].KID != next.KID {
		t.Fatal("revoking the active key changed the next key")
	}
	if r := st[[2]string{RS256, StateRevoked}]; r.KID != old.KID || r.HasPrivate {
		t.Fatalf("revoked row: %+v", r)
	}
	tok2, err := m.Sign(ctx, RS256, []byte(`{"sub":"y"}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	if _, kid, err := m.Verify(ctx, tok2); err != nil || kid != act.KID {
		t.Fatalf("new token: kid %s err %v, want kid %s", kid, err, act.KID)
	}
	if !strings.Contains(string(mustJWKS(t, m).JSON), act.KID) {
		t.Fatal("replacement key is not published")
	}

	if _, err := m.Revoke(ctx, old.KID); !errors.Is(err, ErrAlreadyRevoked) {
		t.Fatalf("second Revoke: %v, want ErrAlreadyRevoked", err)
	}
	if _, err := m.Revoke(ctx, "no-such-kid"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("Revoke unknown: %v, want db.ErrNotFound", err)
	}
}

func TestRevokeNextAndRetired(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	st := byState(mustList(t, m))
	active, next := st[[2]string{ES256, StateActive}], st[[2]string{ES256, StateNext}]

	if _, err := m.Revoke(ctx, next.KID); err != nil {
		t.Fatal(err)
	}
	st = byState(mustList(t, m))
	if n := st[[2]string{ES256, StateNext}]; n.KID == "" || n.KID == next.KID || !n.HasPrivate {
		t.Fatalf("fresh next after revoking next: %+v", n)
	}
	if st[[2]string{ES256, StateActive}].KID != active.KID {
		t.Fatal("revoking next changed the active key")
	}

	rot, err := m.Rotate(ctx, ES256, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mustJWKS(t, m).JSON), rot.Retired.KID) {
		t.Fatal("retired key not published")
	}
	before := len(mustList(t, m))
	k, err := m.Revoke(ctx, rot.Retired.KID)
	if err != nil || k.State != StateRevoked {
		t.Fatalf("Revoke retired: %+v, %v", k, err)
	}
	if after := len(mustList(t, m)); after != before {
		t.Fatalf("revoking a retired key added keys: %d -> %d", before, after)
	}
	if strings.Contains(string(mustJWKS(t, m).JSON), rot.Retired.KID) {
		t.Fatal("revoked retired key still published")
	}
}
