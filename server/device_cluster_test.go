package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"idp/clients"
	"idp/oauth"
	"idp/server/servertest"
)

// TestDeviceAcrossReplicas: the pace of polling lives in the database, so
// a device that polls one replica and then another at once still hears
// slow_down, and the raised interval holds on both; the expired code is
// purged by any replica's purge.
func TestDeviceAcrossReplicas(t *testing.T) {
	c := servertest.NewCluster(t, 2)
	c.Instances[0].CreateClient(t, clients.Spec{ID: "tv", Public: true, GrantTypes: []string{oauth.GrantDeviceCode}})
	post := func(i int, path string, form url.Values) map[string]any {
		t.Helper()
		resp, err := c.Pinned(i).PostForm(c.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got := servertest.Instance(resp); got != i {
			t.Fatalf("answered by instance %d, want %d", got, i)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	da := post(0, "/device_authorization", url.Values{"client_id": {"tv"}, "scope": {"openid"}})
	code, _ := da["device_code"].(string)
	if code == "" {
		t.Fatalf("device authorization: %v", da)
	}
	poll := func(i int) string {
		t.Helper()
		out := post(i, "/token", url.Values{"client_id": {"tv"}, "grant_type": {oauth.GrantDeviceCode}, "device_code": {code}})
		s, _ := out["error"].(string)
		return s
	}
	for _, step := range []struct {
		instance int
		advance  time.Duration
		want     string
	}{
		{0, 0, "authorization_pending"},
		{1, 0, "slow_down"},               // at once, elsewhere: the interval becomes 10 s
		{0, 6 * time.Second, "slow_down"}, // 6 s is not 10; now 15 s
		{1, 15 * time.Second, "authorization_pending"},
	} {
		c.Clock.Advance(step.advance)
		if got := poll(step.instance); got != step.want {
			t.Fatalf("poll on instance %d after %v: %s, want %s", step.instance, step.advance, got, step.want)
		}
	}

	c.Clock.Advance(2 * time.Hour) // past expiry and the hour it is kept
	if _, err := c.Instances[1].App.Purge(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	if got := poll(0); got != "invalid_grant" {
		t.Fatalf("a purged device code: %s, want invalid_grant", got)
	}
}
