package upstreams_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"idp/db/dbtest"
	"idp/keys"
	"idp/upstreams"
	"idp/users"
)

func TestUpstreamClaimMapping(t *testing.T) {
	claims := map[string]any{"groups": []any{"idp-admin", "staff", "idp-dev", 7}, "dept": "idp-ops"}
	cases := []struct {
		m    upstreams.ClaimMapping
		want []string
		ok   bool
	}{
		{upstreams.ClaimMapping{}, nil, false},
		{upstreams.ClaimMapping{RolesClaim: "groups"}, []string{"idp-admin", "staff", "idp-dev"}, true},
		{upstreams.ClaimMapping{RolesClaim: "groups", RolesPrefix: "idp-"}, []string{"admin", "dev"}, true},
		{upstreams.ClaimMapping{RolesClaim: "dept", RolesPrefix: "idp-"}, []string{"ops"}, true},
		{upstreams.ClaimMapping{RolesClaim: "missing"}, nil, true},
	}
	for _, c := range cases {
		got, ok := c.m.Roles(claims)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v %v, want %v %v", c.m, got, ok, c.want, c.ok)
		}
	}
	in := upstreams.ClaimMapping{RolesClaim: "groups", RequiredGroup: "staff"}
	out := upstreams.ClaimMapping{RolesClaim: "groups", RequiredGroup: "admin"} // before the prefix filter
	if !in.InGroup(claims) || out.InGroup(claims) {
		t.Error("InGroup")
	}
}

func TestUpstreamAllowedDomains(t *testing.T) {
	u := &upstreams.Upstream{AllowedDomains: []string{"corp.example"}}
	for addr, want := range map[string]bool{"a@corp.example": true, "a@CORP.example": true, "a@evil.example": false,
		"a@sub.corp.example": false, "": false, "corp.example": false} {
		if u.DomainAllowed(addr) != want {
			t.Errorf("%q: %v", addr, !want)
		}
	}
	if !(&upstreams.Upstream{}).DomainAllowed("") {
		t.Error("no domains configured must allow anyone")
	}
}

// TestUpstreamStoreRoundTrip: every field survives both dialects; the
// secret is stored sealed, not in the clear.
func TestUpstreamStoreRoundTrip(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, nil)
	var mk keys.MasterKey
	svc := upstreams.NewService(upstreams.NewStore(d.Gorm), us, upstreams.Config{Issuer: self, SealKey: mk.Derive("upstream-secret")})
	spec := upstreams.Spec{ID: "corp", Name: "Corp", Issuer: "https://sso.corp.example", ClientID: "idp", Secret: "s3cret",
		Scopes: []string{"email", "openid"}, AllowedDomains: []string{"Corp.Example"}, LinkByEmail: true, JIT: true,
		Claims: upstreams.ClaimMapping{RolesClaim: "groups", RolesPrefix: "idp-", RequiredGroup: "idp-staff"}}
	if _, err := svc.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Store().ByID(ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Corp" || got.Issuer != spec.Issuer || got.ClientID != "idp" || !got.LinkByEmail || !got.JIT ||
		got.Claims != spec.Claims || !slices.Equal(got.Scopes, []string{"openid", "email"}) ||
		!slices.Equal(got.AllowedDomains, []string{"corp.example"}) || len(got.SecretSealed) == 0 ||
		bytes.Contains(got.SecretSealed, []byte("s3cret")) {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := svc.Create(ctx, spec); !errors.Is(err, upstreams.ErrInvalid) {
		t.Fatalf("duplicate: %v", err)
	}
	empty := ""
	if _, err := svc.Update(ctx, "corp", upstreams.Update{Secret: &empty, RequiredGroup: &empty}); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Store().ByID(ctx, "corp"); got.SecretSealed != nil || got.Claims.RequiredGroup != "" {
		t.Fatalf("after update: %+v", got)
	}
	if err := svc.Delete(ctx, "corp"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store().ByID(ctx, "corp"); !errors.Is(err, upstreams.ErrUnknown) {
		t.Fatalf("after delete: %v", err)
	}
}

// TestUpstreamAbandonedSignInsExpire: a state is good for StateTTL, then
// refused and purged.
func TestUpstreamAbandonedSignInsExpire(t *testing.T) {
	h := newHarness(t, upstreams.Spec{JIT: true})
	q, state, _ := h.signIn(t)
	h.clock.advance(upstreams.StateTTL)
	if _, err := h.svc.Finish(context.Background(), "corp", q, state); !errors.Is(err, upstreams.ErrForged) {
		t.Fatalf("expired state: %v, want ErrForged", err)
	}
	if _, err := h.svc.Begin(context.Background(), "corp", "", ""); err != nil {
		t.Fatal(err)
	}
	h.clock.advance(upstreams.StateTTL)
	if n, err := h.svc.Store().DeleteExpired(context.Background(), h.clock.now(), 100); err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	h.nothingMade(t)
}
