package upstreams_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/upstreams"
)

// pending signs in at the upstream as the owner of an existing account
// here (no --link-by-email) and returns the pending link it leaves.
func (h *harness) pending(t *testing.T) (*upstreams.LinkPending, string) {
	t.Helper()
	local, err := h.users.Create(context.Background(), email, "marble orchestra pinecone 7", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	q, state, _ := h.signIn(t)
	_, err = h.svc.Finish(context.Background(), "corp", q, state)
	var lp *upstreams.LinkPending
	if !errors.As(err, &lp) || !errors.Is(err, upstreams.ErrLinkRefused) || lp.Token == "" || lp.Email != email {
		t.Fatalf("finish: %v, want a pending link", err)
	}
	if strings.Contains(err.Error(), lp.Token) {
		t.Fatal("the pending link's error names its token")
	}
	return lp, local.ID
}

func (h *harness) links(t *testing.T) int {
	t.Helper()
	var n int64
	h.d.Gorm.Table("upstream_links").Count(&n)
	return int(n)
}

// TestConfirmLinkOnce: of two racing confirmations exactly one links; the
// token then is spent.
func TestConfirmLinkOnce(t *testing.T) {
	h := newHarness(t, upstreams.Spec{})
	lp, userID := h.pending(t)
	ctx := context.Background()
	if p, err := h.svc.Pending(ctx, lp.Token); err != nil || p.UserID != userID || p.Upstream.ID != "corp" || p.Email != email {
		t.Fatalf("pending: %+v %v", p, err)
	}
	if h.links(t) != 0 {
		t.Fatal("linked before the confirmation")
	}
	at := h.clock.now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = h.svc.ConfirmLink(ctx, lp.Token, userID, at)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, upstreams.ErrNoPendingLink):
			t.Fatalf("racer: %v", err)
		}
	}
	if won != 1 || h.links(t) != 1 {
		t.Fatalf("%d confirmations won, %d links; want 1 and 1", won, h.links(t))
	}
	if _, err := h.svc.Pending(ctx, lp.Token); !errors.Is(err, upstreams.ErrNoPendingLink) {
		t.Fatalf("spent token: %v", err)
	}
}

// TestConfirmLinkRefusals: another user, a sign-in older than the pending
// link, an expired or unknown token: nothing is linked.
func TestConfirmLinkRefusals(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, upstreams.Spec{LinkByEmail: true}) // idp-as-upstream does not say email_verified here
	lp, userID := h.pending(t)
	if _, _, err := h.svc.ConfirmLink(ctx, lp.Token, "someone-else", h.clock.now()); !errors.Is(err, upstreams.ErrOtherAccount) {
		t.Fatalf("another user: %v", err)
	}
	if _, _, err := h.svc.ConfirmLink(ctx, lp.Token, userID, h.clock.now()); !errors.Is(err, upstreams.ErrNoPendingLink) {
		t.Fatalf("after another user spent it: %v", err)
	}
	for _, tok := range []string{"", "never-issued"} {
		if _, _, err := h.svc.ConfirmLink(ctx, tok, userID, h.clock.now()); !errors.Is(err, upstreams.ErrNoPendingLink) {
			t.Fatalf("token %q: %v", tok, err)
		}
	}
	// A second attempt: a stale session, then expiry and the purge.
	q, state, _ := h.signIn(t)
	_, err := h.svc.Finish(ctx, "corp", q, state)
	var again *upstreams.LinkPending
	if !errors.As(err, &again) {
		t.Fatalf("second finish: %v", err)
	}
	if _, _, err := h.svc.ConfirmLink(ctx, again.Token, userID, h.clock.now().Add(-time.Minute)); !errors.Is(err, upstreams.ErrStaleSignIn) {
		t.Fatalf("stale sign-in: %v", err)
	}
	q, state, _ = h.signIn(t)
	if _, err = h.svc.Finish(ctx, "corp", q, state); !errors.As(err, &again) {
		t.Fatalf("third finish: %v", err)
	}
	h.clock.advance(upstreams.PendingLinkTTL)
	if _, err := h.svc.Pending(ctx, again.Token); !errors.Is(err, upstreams.ErrNoPendingLink) {
		t.Fatalf("expired: %v", err)
	}
	if n, err := h.svc.Store().DeleteExpiredPendingLinks(ctx, h.clock.now(), 100); err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if h.links(t) != 0 {
		t.Fatalf("%d links after refusals", h.links(t))
	}
}

// TestUnlinkNeverTheLastWay: a user without a password and with two
// links; two racing unlinks of both leave exactly one.
func TestUnlinkNeverTheLastWay(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, upstreams.Spec{JIT: true})
	q, state, _ := h.signIn(t)
	res, err := h.svc.Finish(ctx, "corp", q, state)
	if err != nil || res.User.HasPassword() {
		t.Fatalf("JIT: %+v %v", res, err)
	}
	if _, err := h.svc.Create(ctx, upstreams.Spec{ID: "other", Name: "Other", Issuer: "https://other.example", ClientID: "x"}); err != nil {
		t.Fatal(err)
	}
	now := h.clock.now()
	if err := h.d.Gorm.Exec("INSERT INTO upstream_links (upstream_id, upstream_sub, user_id, email, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
		"other", "o-sub", res.User.ID, email, now, now).Error; err != nil {
		t.Fatal(err)
	}
	links, _ := h.svc.Store().LinksOf(ctx, res.User.ID)
	if len(links) != 2 {
		t.Fatalf("links %+v", links)
	}
	if err := h.svc.Unlink(ctx, res.User.ID, "corp", "nobody", false); err == nil {
		t.Fatal("unlinked an unknown link")
	}
	if err := h.svc.Unlink(ctx, "someone-else", links[0].UpstreamID, links[0].Subject, true); err == nil {
		t.Fatal("unlinked another user's link")
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.svc.Unlink(ctx, res.User.ID, l.UpstreamID, l.Subject, false)
		}()
	}
	wg.Wait()
	ok, last := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, upstreams.ErrLastWay):
			last++
		default:
			t.Fatalf("racer: %v", err)
		}
	}
	if ok != 1 || last != 1 || h.links(t) != 1 {
		t.Fatalf("%d unlinked, %d refused, %d links left; want 1, 1, 1", ok, last, h.links(t))
	}
	left, _ := h.svc.Store().LinksOf(ctx, res.User.ID)
	if err := h.svc.Unlink(ctx, res.User.ID, left[0].UpstreamID, left[0].Subject, true); err != nil {
		t.Fatalf("with another way in: %v", err)
	}
}
