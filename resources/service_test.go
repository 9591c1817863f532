package resources

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

func newService(t *testing.T) *Service {
	t.Helper()
	d := dbtest.Open(t)
	return NewService(NewStore(d.Gorm), make([]byte, 32), 15*time.Minute, nil)
}

// TestCreateAuthenticatePolicy: a registered resource authenticates with
// its secret only, and answers the policy of its tokens; every problem of
// a spec is reported at once and nothing is stored.
func TestCreateAuthenticatePolicy(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	orders, secret, err := s.Create(ctx, Spec{URI: "https://orders.example/api", Name: "Orders", Scopes: []string{"orders:read", "orders:read"},
		SigningAlg: "ES256", AccessTokenTTL: 5 * time.Minute})
	if err != nil || len(secret) != 43 || len(orders.Scopes) != 1 {
		t.Fatalf("create: %+v %q %v", orders, secret, err)
	}
	if _, _, err := s.Create(ctx, Spec{URI: "https://orders.example/api"}); !errors.Is(err, ErrExists) || !errors.Is(err, db.ErrConflict) {
		t.Fatalf("a second registration: %v", err)
	}
	if _, _, err := s.Create(ctx, Spec{URI: "urn:example:billing", NoSecret: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "https://orders.example/api", secret); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	for name, c := range map[string][2]string{
		"wrong secret":   {"https://orders.example/api", strings.Repeat("x", 43)},
		"unknown":        {"https://ghost.example/api", secret},
		"no credentials": {"urn:example:billing", ""},
	} {
		if _, err := s.Authenticate(ctx, c[0], c[1]); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s: %v", name, err)
		}
	}
	p, err := s.Policy(ctx, []string{"https://orders.example/api", "urn:example:billing"})
	if err != nil || p.SigningAlg != "ES256" || p.TTL != 5*time.Minute {
		t.Fatalf("policy: %+v %v", p, err)
	}
	if _, err := s.Policy(ctx, []string{"https://orders.example/api", "https://ghost.example"}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("policy with an unknown resource: %v", err)
	}
	if _, _, err := s.Create(ctx, Spec{URI: "https://rsa.example", SigningAlg: "RS256"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Policy(ctx, []string{"https://orders.example/api", "https://rsa.example"}); !errors.Is(err, ErrMixedAlgs) {
		t.Fatalf("policy with two algs: %v", err)
	}

	_, _, err = s.Create(ctx, Spec{URI: "/relative#frag", SigningAlg: "HS256", AccessTokenTTL: time.Hour, Secret: "short", Scopes: []string{"a b"}})
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("bad spec: %v", err)
	}
	for _, want := range []string{"absolute", "RS256 or ES256", "at most", "at least 32", "single scope"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	for _, bad := range []string{"", "https://", "https://x.example/#f", "not a uri", "https://x.example/\x00", "https://x.example/" + strings.Repeat("a", 600)} {
		if ValidateURI(bad) == nil {
			t.Errorf("ValidateURI(%q) accepted", bad)
		}
	}
	list, err := s.Store().List(ctx)
	if err != nil || len(list) != 3 || list[0].URI != "https://orders.example/api" {
		t.Fatalf("list: %+v %v", list, err)
	}

	// Update keeps the credentials; regeneration replaces them.
	spec := SpecOf(orders)
	spec.Name, spec.AccessTokenTTL = "Orders API", 0
	if up, err := s.Update(ctx, spec); err != nil || up.Name != "Orders API" || up.AccessTokenTTL != 0 {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := s.Authenticate(ctx, "https://orders.example/api", secret); err != nil {
		t.Fatalf("the secret after an update: %v", err)
	}
	fresh, err := s.RegenerateSecret(ctx, "https://orders.example/api")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "https://orders.example/api", secret); err == nil {
		t.Fatal("the old secret still works")
	}
	if _, err := s.Authenticate(ctx, "https://orders.example/api", fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, Spec{URI: "https://ghost.example"}); !errors.Is(err, ErrUnknown) || !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("update of an unknown resource: %v", err)
	}
	if err := s.Store().Delete(ctx, "https://orders.example/api"); err != nil {
		t.Fatal(err)
	}
	if err := s.Store().Delete(ctx, "https://orders.example/api"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestConcurrentCreate: racing registrations of one URI — exactly one wins.
func TestConcurrentCreate(t *testing.T) {
	s := newService(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() { <-start; _, _, errs[i] = s.Create(t.Context(), Spec{URI: "https://race.example"}) })
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrExists):
			t.Errorf("loser: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d registrations won", won)
	}
}

// TestPolicyScopes: the scopes a token may carry for its audience. OIDC
// scopes always; an API scope when a resource of the audience that
// declares scopes declares it, or when some resource declares none; with
// no resource at all, anything. The rule reads the resource as it is now.
func TestPolicyScopes(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	const orders, billing, open = "https://orders.example/api", "https://billing.example/api", "https://open.example/api"
	for _, spec := range []Spec{
		{URI: orders, Scopes: []string{"read", "write"}, NoSecret: true},
		{URI: billing, Scopes: []string{"bill"}, NoSecret: true},
		{URI: open, NoSecret: true},
	} {
		if _, _, err := s.Create(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	oidc := []string{"openid", "profile", "email", "address", "phone", "offline_access"}
	for _, c := range []struct {
		aud     []string
		allowed []string
		denied  []string
	}{
		{nil, []string{"read", "anything", "idp:admin"}, nil},
		{[]string{orders}, []string{"read", "write"}, []string{"bill", "delete", "idp:admin"}},
		{[]string{orders, billing}, []string{"read", "write", "bill"}, []string{"delete"}},
		{[]string{open}, []string{"read", "delete", "idp:admin"}, nil},
		{[]string{orders, open}, []string{"read", "bill", "delete"}, nil},
	} {
		p, err := s.Policy(ctx, c.aud)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range append(slices.Clone(oidc), c.allowed...) {
			if !p.Allows(sc) {
				t.Errorf("%v refuses %s", c.aud, sc)
			}
		}
		for _, sc := range c.denied {
			if p.Allows(sc) {
				t.Errorf("%v allows %s", c.aud, sc)
			}
		}
		want := append(slices.Clone(oidc), c.allowed...)
		if got := p.Allowed(append(slices.Clone(want), c.denied...)); !slices.Equal(got, want) {
			t.Errorf("%v: Allowed = %v, want %v", c.aud, got, want)
		}
	}

	// An edit shows at once: write is gone from orders' tokens.
	if _, err := s.Update(ctx, Spec{URI: orders, Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Policy(ctx, []string{orders}); err != nil || p.Allows("write") || !p.Allows("read") {
		t.Fatalf("after removing write: %+v %v", p, err)
	}
}
