package admin_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"idp/admin"
	"idp/upstreams"
)

// TestUpstreamErrors: the admin layer turns the upstreams package's
// refusals into its own kinds, so every door maps them alike: a broken
// rule is *InvalidError in plain words, a taken id ErrConflict (also for
// the loser of two concurrent creates), an unknown id ErrNotFound; none
// of them is audited.
func TestUpstreamErrors(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	spec := upstreams.Spec{ID: "corp", Name: "Corp", Issuer: "https://sso.corp.example", ClientID: "idp", Secret: "s3cret-value"}

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = a.Admin.CreateUpstream(ctx, actor, spec) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, admin.ErrConflict) || !strings.Contains(err.Error(), "already exists"):
			t.Errorf("a losing create: %v, want ErrConflict", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent creates won, want 1", won)
	}
	if ev := lastEvent(t, a); ev.Action != "upstream.create" || ev.Target != "corp" || ev.Actor != actor.Name {
		t.Fatalf("audit: %+v", ev)
	}
	before := auditCount(t, a)

	var invalid *admin.InvalidError
	bad := spec
	bad.ID, bad.Issuer, bad.Name = "other", "http://sso.corp.example", ""
	if _, err := a.Admin.CreateUpstream(ctx, actor, bad); !errors.As(err, &invalid) ||
		strings.HasPrefix(invalid.Reason, "invalid upstream") || !strings.Contains(invalid.Reason, "name is required") ||
		!strings.Contains(invalid.Reason, "must be https") {
		t.Fatalf("invalid create: %v", err)
	}
	plain := "http://evil.example"
	if _, err := a.Admin.UpdateUpstream(ctx, actor, "corp", upstreams.Update{Issuer: &plain}); !errors.As(err, &invalid) {
		t.Fatalf("invalid update: %v", err)
	}
	name := "X"
	if _, err := a.Admin.UpdateUpstream(ctx, actor, "ghost", upstreams.Update{Name: &name}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("update of an unknown upstream: %v", err)
	}
	if err := a.Admin.DeleteUpstream(ctx, actor, "ghost"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("delete of an unknown upstream: %v", err)
	}
	if _, err := a.Admin.Upstream(ctx, "ghost"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("read of an unknown upstream: %v", err)
	}
	if n := auditCount(t, a); n != before {
		t.Fatalf("refusals were audited: %d events, want %d", n, before)
	}
	if u, err := a.Admin.Upstream(ctx, "corp"); err != nil || u.Issuer != spec.Issuer || len(u.SecretSealed) == 0 {
		t.Fatalf("stored %+v %v", u, err)
	}
	if got := a.Admin.UpstreamRedirectURI("corp"); got != "https://idp.example/login/upstream/corp/callback" {
		t.Fatalf("redirect URI %q", got)
	}
}
