package server_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"idp/clients"
	"idp/oauth"
	"idp/server"
	"idp/server/servertest"
)

// TestRefreshChain rotates ten times in a row: every refresh token works
// once, every response carries a fresh access and ID token, and a reuse
// of an old link, once its grace window is over, kills the whole chain.
func TestRefreshChain(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	ctx := context.Background()
	verifier := app.provider.Verifier(&oidc.Config{ClientID: "app", Now: env.Clock.Now})
	family := familyOf(t, env, tok.RefreshToken)

	chain := []string{tok.RefreshToken}
	access := []string{tok.AccessToken}
	for i := range 10 {
		env.Clock.Advance(time.Minute)
		prev := chain[len(chain)-1]
		tr := mustRefresh(t, app, prev)
		for _, old := range chain {
			if tr.RefreshToken == old {
				t.Fatalf("refresh %d handed out an old refresh token", i)
			}
		}
		if _, err := verifier.Verify(ctx, tr.IDToken); err != nil {
			t.Fatalf("refresh %d: ID token: %v", i, err)
		}
		if familyOf(t, env, tr.RefreshToken) != family {
			t.Fatalf("refresh %d started a new family", i)
		}
		wantAccepted(t, env, tr.AccessToken)
		// The link just used is spent; the new one is live.
		wantActive(t, introspectToken(t, env, credsOf(app), prev, ""), false)
		wantActive(t, introspectToken(t, env, credsOf(app), tr.RefreshToken, ""), true)
		chain, access = append(chain, tr.RefreshToken), append(access, tr.AccessToken)
	}
	if n := rowCount(t, env, "refresh_tokens", "family_id = ?", family); n != 11 {
		t.Fatalf("family holds %d tokens, want 11", n)
	}
	if n := rowCount(t, env, "refresh_tokens", "family_id = ? AND used_at IS NOT NULL", family); n != 10 {
		t.Fatalf("%d tokens marked used, want 10", n)
	}

	// Replaying the fifth link long after its grace window revokes all.
	env.Clock.Advance(time.Minute)
	wantError(t, refreshWith(t, env, credsOf(app), chain[4], nil), http.StatusBadRequest, "invalid_grant")
	newest := chain[len(chain)-1]
	wantError(t, refreshWith(t, env, credsOf(app), newest, nil), http.StatusBadRequest, "invalid_grant")
	wantActive(t, introspectToken(t, env, credsOf(app), newest, ""), false)
	wantRefused(t, env, access[len(access)-1])
	wantActive(t, introspectToken(t, env, credsOf(app), access[len(access)-1], ""), false)
	if n := rowCount(t, env, "refresh_families", "id = ? AND revoked_at IS NOT NULL", family); n != 1 {
		t.Fatal("family not marked revoked")
	}
}

// TestRefreshRetryInGrace: a response lost on the way is retried inside
// the grace window and gets the very same bytes, however often, without a
// new token being minted; only the owner gets it; after the window the
// retry is a reuse and the family dies, newest token and access token too.
func TestRefreshRetryInGrace(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	other := newRP(t, env, clients.Spec{ID: "other", Trusted: true})
	status, first := refresh(t, app, tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, first)
	}
	before := rowSnapshot(t, env)
	for range 3 {
		env.Clock.Advance(3 * time.Second)
		if status, again := refresh(t, app, tok.RefreshToken); status != http.StatusOK || string(again) != string(first) {
			t.Fatalf("retry in grace: %d, identical=%v", status, string(again) == string(first))
		}
	}
	// Another client cannot collect the sealed child.
	wantError(t, refreshWith(t, env, credsOf(other), tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
	unchanged(t, env, before)

	var child tokenResp
	decodeInto(t, first, &child)
	wantAccepted(t, env, child.AccessToken)
	env.Clock.Advance(2 * time.Second) // 11 s after the rotation: past the 10 s window
	wantError(t, refreshWith(t, env, credsOf(app), tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
	wantError(t, refreshWith(t, env, credsOf(app), child.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
	wantRefused(t, env, child.AccessToken)
	wantRefused(t, env, tok.AccessToken)
	wantActive(t, introspectToken(t, env, credsOf(app), child.AccessToken, "access_token"), false)
	wantActive(t, introspectToken(t, env, credsOf(app), child.RefreshToken, "refresh_token"), false)
	// The sealed child is gone with the family.
	if n := rowCount(t, env, "refresh_tokens", "child_sealed IS NOT NULL"); n != 0 {
		t.Errorf("%d sealed children survive a revoked family", n)
	}
}

// TestRefreshRaceRows races 50 refreshes of one token and then checks the
// database: one child row, its parent the raced token, and (with a grace
// window) a live child every racer received; in strict mode the losers
// are reuses, so the family is revoked.
func TestRefreshRaceRows(t *testing.T) {
	t.Parallel()
	for _, grace := range []time.Duration{10 * time.Second, 0} {
		t.Run(grace.String(), func(t *testing.T) {
			env := servertest.New(t, func(c *server.Config) { c.RefreshReuseGrace = grace })
			app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
			family := familyOf(t, env, tok.RefreshToken)
			const racers = 50
			var wg sync.WaitGroup
			results := make([]apiResult, racers)
			for i := range racers {
				wg.Go(func() { results[i] = refreshWith(t, env, credsOf(app), tok.RefreshToken, nil) })
			}
			wg.Wait()
			children := map[string]bool{}
			for _, r := range results {
				switch {
				case r.status == http.StatusOK:
					children[r.str("refresh_token")] = true
				case r.status != http.StatusBadRequest || r.str("error") != "invalid_grant":
					t.Fatalf("racer got %d %s", r.status, r.raw)
				}
			}
			if len(children) != 1 {
				t.Fatalf("%d distinct children handed out, want 1", len(children))
			}
			if n := rowCount(t, env, "refresh_tokens", "family_id = ?", family); n != 2 {
				t.Fatalf("family holds %d tokens after the race, want 2", n)
			}
			if n := rowCount(t, env, "refresh_tokens", "parent_hash = ?", oauth.HashSecret(tok.RefreshToken)); n != 1 {
				t.Fatalf("%d children of the raced token, want 1", n)
			}
			var child string
			for c := range children {
				child = c
			}
			if familyOf(t, env, child) != family {
				t.Fatal("the child is not in the family")
			}
			live := grace > 0
			wantActive(t, introspectToken(t, env, credsOf(app), child, ""), live)
			if live {
				env.Clock.Advance(grace)
				mustRefresh(t, app, child)
			}
		})
	}
}
