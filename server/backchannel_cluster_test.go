package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/admin"
	"idp/server/servertest"
)

// TestBackchannelLogoutThreeReplicas: three replicas on one database
// (PostgreSQL with IDP_TEST_POSTGRES) end sessions, two of them the same
// sessions at once, and all three drain the queue at once: each session's
// logout reaches the relying service exactly once.
func TestBackchannelLogoutThreeReplicas(t *testing.T) {
	t.Parallel()
	c := servertest.NewCluster(t, 3)
	rp := newLogoutRP(t)
	s := newBCL(t, c.Instances[0], rp, "ES256")
	sids := map[string]bool{s.sid: true}
	for range 4 {
		sids[sidOf(t, s.codeFlow(t, c.Instances[0].Browser(t), testEmail))] = true
	}
	if len(sids) != 5 {
		t.Fatalf("%d distinct sessions, want 5", len(sids))
	}
	// Two replicas sign the user out everywhere at the same moment.
	var wg sync.WaitGroup
	for _, e := range c.Instances[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.App.Admin.EndAccess(context.Background(), admin.Actor{Name: "root"}, admin.UserRef{ID: s.user.ID}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := rowCount(t, c.Instances[0], "logout_deliveries", "client_id = ?", "app"); n != 5 {
		t.Fatalf("%d logouts queued, want one per session", n)
	}
	var mu sync.Mutex
	total := 0
	for round := 0; round < 3; round++ {
		for _, e := range c.Instances {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := e.App.Logout.DeliverBatch(context.Background(), 2)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	c.Clock.Advance(time.Hour) // past any lease
	for _, e := range c.Instances {
		deliver(t, e)
	}
	all, ok := rp.received()
	if total != 5 || len(all) != 5 || len(ok) != 5 {
		t.Fatalf("delivered %d, relying service received %d (%d accepted); want 5 each", total, len(all), len(ok))
	}
	seen := map[string]bool{}
	for _, tok := range ok {
		var claims struct {
			SID string `json:"sid"`
		}
		decodeInto(t, []byte(decodeSegment(t, strings.Split(tok, ".")[1])), &claims)
		if seen[claims.SID] || !sids[claims.SID] {
			t.Fatalf("logout for sid %s: repeated or unknown", claims.SID)
		}
		seen[claims.SID] = true
		checkLogoutToken(t, c.Instances[1], tok, "app", s.user.ID, claims.SID, "ES256")
	}
}
