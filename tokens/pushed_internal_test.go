package tokens

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/clients"
)

// TestPushedRoundTripAndOneUse: a pushed request comes back with its
// parameters for its own client only, is stored by hash, and can be
// claimed once.
func TestPushedRoundTripAndOneUse(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	params := url.Values{"response_type": {"code"}, "scope": {"openid"}, "resource": {"https://a.example", "https://b.example"}}
	uri, ttl, err := e.s.Push(ctx, e.client.ID, params)
	if err != nil {
		t.Fatal(err)
	}
	secret, ok := strings.CutPrefix(uri, RequestURIPrefix)
	if !ok || len(secret) < 43 || ttl != DefaultPushedTTL {
		t.Fatalf("request_uri %q, ttl %s", uri, ttl)
	}
	if n := e.count(t, "pushed_requests", "id_hash = ?", secret); n != 0 {
		t.Fatal("the request_uri's secret is stored in the clear")
	}
	p, err := e.s.Pushed(ctx, uri, e.client.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Params.Get("scope") != "openid" || len(p.Params["resource"]) != 2 || p.ClientID != e.client.ID {
		t.Fatalf("read back %+v", p)
	}
	if _, err := e.s.Pushed(ctx, uri, "other"); !errors.Is(err, ErrPushedClient) {
		t.Fatalf("another client's load: %v", err)
	}
	if err := e.s.Claim(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Claim(ctx, p); !errors.Is(err, ErrPushedGone) {
		t.Fatalf("second claim: %v", err)
	}
	if _, err := e.s.Pushed(ctx, uri, e.client.ID); !errors.Is(err, ErrPushedGone) {
		t.Fatalf("load after use: %v", err)
	}
	for _, bad := range []string{"", RequestURIPrefix, "urn:x:" + secret, RequestURIPrefix + "nope", RequestURIPrefix + strings.Repeat("a", 65)} {
		if _, err := e.s.Pushed(ctx, bad, e.client.ID); !errors.Is(err, ErrPushedGone) {
			t.Errorf("Pushed(%q) = %v", bad, err)
		}
	}
}

// TestPushedExpiresAndIsPurged: a request_uri works until its lifetime
// ends, then neither loads nor claims, and the purge removes it.
func TestPushedExpiresAndIsPurged(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	uri, _, err := e.s.Push(ctx, e.client.ID, url.Values{"scope": {"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(DefaultPushedTTL - time.Second)
	p, err := e.s.Pushed(ctx, uri, e.client.ID)
	if err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	if _, err := e.s.Purge(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "pushed_requests", ""); n != 1 {
		t.Fatalf("purge removed a live pushed request (%d left)", n)
	}
	e.clock.Advance(time.Second)
	if _, err := e.s.Pushed(ctx, uri, e.client.ID); !errors.Is(err, ErrPushedGone) {
		t.Fatalf("load at expiry: %v", err)
	}
	if err := e.s.Claim(ctx, p); !errors.Is(err, ErrPushedGone) {
		t.Fatalf("claim at expiry: %v", err)
	}
	if _, err := e.s.Purge(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "pushed_requests", ""); n != 0 {
		t.Fatalf("purge left %d expired pushed requests", n)
	}
}

// TestPushedClaimRace: of 20 concurrent claims of one request, exactly
// one wins.
func TestPushedClaimRace(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	uri, _, err := e.s.Push(ctx, e.client.ID, url.Values{"scope": {"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.s.Pushed(ctx, uri, e.client.ID)
	if err != nil {
		t.Fatal(err)
	}
	oneWinner(t, 20, func(int) (bool, error) {
		err := e.s.Claim(ctx, p)
		if errors.Is(err, ErrPushedGone) {
			return false, nil
		}
		return err == nil, err
	})
}

// TestPushedGoesWithItsClient: deleting a client deletes its pushed
// requests (ON DELETE CASCADE).
func TestPushedGoesWithItsClient(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	cs := clients.NewStore(e.db.Gorm)
	if _, _, err := e.s.Push(ctx, e.client.ID, url.Values{"scope": {"openid"}}); err != nil {
		t.Fatal(err)
	}
	if err := cs.Delete(ctx, e.client.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "pushed_requests", ""); n != 0 {
		t.Fatalf("%d pushed requests outlived their client", n)
	}
}
