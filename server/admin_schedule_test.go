package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/keys"
	"idp/server"
	"idp/server/servertest"
)

// The admin API, the admin page and an admin command judge a rotation by
// the same stored time: with the server at 1 h, 10 minutes after the keys
// were published, all three refuse and name the same safe time, written
// for people where people read it.
func TestAdminSurfacesAgreeOnTheStoredSafeTime(t *testing.T) {
	env := servertest.New(t, func(c *server.Config) { c.JWKSMaxAge = time.Hour })
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	ctx := context.Background()
	published := env.Clock.Now()
	safeAt := published.Add(time.Hour + keys.CacheTTLFor(time.Hour))
	env.Clock.Advance(10 * time.Minute)
	if _, err := env.Keys.Step(ctx); err != nil { // the scheduler's wake-up, as serve runs it
		t.Fatal(err)
	}

	// What `idp keys rotate` runs: an admin-command manager.
	cli := keys.NewManager(env.DB.Gorm, env.Master, keys.Options{Admin: true, Now: env.Clock.Now})
	_, err := cli.Rotate(ctx, keys.RS256, false)
	var early *keys.TooEarlyError
	if !errors.As(err, &early) || !early.SafeAt.Equal(safeAt) {
		t.Fatalf("admin command: %v, want refusal until %v", err, safeAt)
	}

	status, body, hdr := api(t, env, "POST", "/api/admin/keys/rotate", tok, map[string]any{"alg": "RS256"})
	if status != http.StatusConflict || body["error"] != "rotation_too_early" ||
		body["safe_at"] != safeAt.UTC().Format(time.RFC3339) || body["kid"] != early.KID ||
		body["published_at"] != published.UTC().Format(time.RFC3339) || hdr.Get("Retry-After") != "3005" ||
		!strings.Contains(body["error_description"].(string), "in 50 minutes 5 seconds") {
		t.Fatalf("API: %d %v Retry-After %q", status, body, hdr.Get("Retry-After"))
	}
	status, body, _ = api(t, env, "GET", "/api/admin/keys", tok, nil)
	ps, _ := body["policies"].([]any)
	if status != 200 || len(ps) != 1 || ps[0].(map[string]any)["jwks_max_age_seconds"] != 3600.0 {
		t.Fatalf("API keys: %d %v", status, body)
	}
	var signsFrom string
	for _, k := range body["keys"].([]any) {
		if k := k.(map[string]any); k["kid"] == early.KID {
			signsFrom, _ = k["signs_from"].(string)
		}
	}
	if at, err := time.Parse(time.RFC3339Nano, signsFrom); err != nil || !at.Equal(safeAt) {
		t.Fatalf("API lists the next key's signs_from as %q, want %v", signsFrom, safeAt)
	}

	b := env.Browser(t)
	signInDirect(t, env, b, adminEmail, adminPassword)
	_, page := env.Get(t, b, "/admin/keys")
	if page.Status != 200 || !strings.Contains(page.Body, "<strong>1 hour</strong>") ||
		!strings.Contains(page.Body, safeAt.UTC().Format("2006-01-02 15:04 UTC")) ||
		!strings.Contains(page.Body, "Running servers") || !strings.Contains(page.Body, "<td>30 days</td>") {
		t.Fatalf("keys page: %d\n%s", page.Status, page.Body)
	}
	resp, conf := env.PostForm(t, b, "/admin/keys/rotate", url.Values{"csrf_token": {page.CSRF()}, "alg": {"RS256"}})
	if resp.StatusCode != 200 || !strings.Contains(conf.Body, safeAt.UTC().Format("2006-01-02 15:04:05 UTC")) ||
		!strings.Contains(conf.Body, "in 50 minutes 5 seconds") || !strings.Contains(conf.Body, "Rotate anyway") {
		t.Fatalf("confirmation: %d\n%s", resp.StatusCode, conf.Body)
	}
	// At the stored time it is allowed (the 10-minute token has expired
	// meanwhile: a fresh one).
	env.Clock.Advance(safeAt.Sub(env.Clock.Now()))
	tok = adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	if status, body, _ := api(t, env, "POST", "/api/admin/keys/rotate", tok, map[string]any{"alg": "RS256"}); status != 200 {
		t.Fatalf("API at the safe time: %d %v", status, body)
	}
}
