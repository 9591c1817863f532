package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server/servertest"
)

// purgedTables are the tables the purge empties once everything expired.
var purgedTables = []string{"auth_requests", "auth_codes", "sessions", "refresh_families", "refresh_tokens", "revoked_tokens"}

func tableCounts(t *testing.T, env *servertest.Env) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	for _, table := range purgedTables {
		m[table] = rowCount(t, env, table, "")
	}
	return m
}

// fillTables makes three of everything the purge deals with, through the
// public endpoints: pending authorization requests, unredeemed and
// redeemed codes, sessions, refresh families and denylisted access tokens.
func fillTables(t *testing.T, env *servertest.Env, app *rp) {
	t.Helper()
	ctx := context.Background()
	for range 3 {
		resp, _ := env.Get(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize: %d", resp.StatusCode)
		}
		v := oauth2.GenerateVerifier()
		b := env.Browser(t)
		env.Authorize(t, b, app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), testEmail, testPassword)
		loc := env.Authorize(t, b, app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
		tok, err := app.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		wantRevoked200(t, revokeToken(t, env, credsOf(app), tok.AccessToken, ""))
	}
	want := map[string]int64{"auth_requests": 3, "auth_codes": 6, "sessions": 3, "refresh_families": 3,
		"refresh_tokens": 3, "revoked_tokens": 3}
	if got := tableCounts(t, env); !equalCounts(got, want) {
		t.Fatalf("filled tables %v, want %v", got, want)
	}
}

func equalCounts(a, b map[string]int64) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// TestPurgeInBatches: once everything has expired, each purge call takes
// at most limit rows from each table, and repeated calls empty them; rows
// that have not expired stay.
func TestPurgeInBatches(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	app := newRP(t, env, clients.Spec{ID: "app", Trusted: true})
	app.conf.Scopes = append(app.conf.Scopes, "offline_access")
	fillTables(t, env, app)
	ctx := context.Background()

	// Nothing has expired yet: nothing goes.
	if n, err := env.Tokens.Purge(ctx, 500); err != nil || n != 0 {
		t.Fatalf("early purge removed %d (%v)", n, err)
	}
	if n, err := env.Sessions.Store().DeleteExpired(ctx, env.Clock.Now(), 500); err != nil || n != 0 {
		t.Fatalf("early session purge removed %d (%v)", n, err)
	}

	env.Clock.Advance(env.Config.RefreshTokenTTL + 25*time.Hour)
	// A fresh sign-in after the jump must survive the purge.
	fresh, _ := offlineRefreshOnly(t, env, app)

	if _, err := env.Tokens.Purge(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Sessions.Store().DeleteExpired(ctx, env.Clock.Now(), 2); err != nil {
		t.Fatal(err)
	}
	got := tableCounts(t, env)
	// Three expired rows each, two taken; the fresh grant adds a session,
	// a used code, a family and its token (refresh tokens go with their
	// family: one of three expired families is left).
	want := map[string]int64{"auth_requests": 1, "auth_codes": 4 + 1, "sessions": 1 + 1, "refresh_families": 1 + 1,
		"refresh_tokens": 1 + 1, "revoked_tokens": 1}
	if !equalCounts(got, want) {
		t.Fatalf("after one batch of 2: %v, want %v", got, want)
	}
	for i := 0; ; i++ {
		n, err := env.Tokens.Purge(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		m, err := env.Sessions.Store().DeleteExpired(ctx, env.Clock.Now(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if n+m == 0 {
			break
		}
		if i > 5 {
			t.Fatal("purge never finishes")
		}
	}
	want = map[string]int64{"auth_requests": 0, "auth_codes": 1, "sessions": 1, "refresh_families": 1,
		"refresh_tokens": 1, "revoked_tokens": 0}
	if got := tableCounts(t, env); !equalCounts(got, want) {
		t.Fatalf("after purging: %v, want %v", got, want)
	}
	mustRefresh(t, app, fresh)
}

// offlineRefreshOnly signs the user in once more and returns the refresh
// and access tokens.
func offlineRefreshOnly(t *testing.T, env *servertest.Env, app *rp) (refreshToken, accessToken string) {
	t.Helper()
	v := oauth2.GenerateVerifier()
	loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
	tok, err := app.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok.RefreshToken, tok.AccessToken
}

// TestRevokedStaysRefusedThroughLeeway: idp accepts an access token 30 s
// past its exp (clock leeway), so a revocation must hold that long too:
// when the token is revoked inside the leeway, and when a purge runs
// inside it. Each way of revoking: the family, the access token, a
// replayed code.
func TestRevokedStaysRefusedThroughLeeway(t *testing.T) {
	t.Parallel()
	revokers := map[string]func(t *testing.T, env *servertest.Env, app *rp, tok *oauth2.Token, code string){
		"family": func(t *testing.T, env *servertest.Env, app *rp, tok *oauth2.Token, _ string) {
			wantRevoked200(t, revokeToken(t, env, credsOf(app), tok.RefreshToken, ""))
		},
		"access token": func(t *testing.T, env *servertest.Env, app *rp, tok *oauth2.Token, _ string) {
			wantRevoked200(t, revokeToken(t, env, credsOf(app), tok.AccessToken, ""))
		},
		"replayed code": func(t *testing.T, env *servertest.Env, app *rp, _ *oauth2.Token, code string) {
			_, err := app.conf.Exchange(context.Background(), code, oauth2.VerifierOption("x"))
			if err == nil {
				t.Fatal("a replayed code was accepted")
			}
		},
	}
	for name, revoke := range revokers {
		for _, when := range []string{"before exp", "inside the leeway"} {
			t.Run(name+", "+when, func(t *testing.T) {
				env := servertest.New(t)
				env.CreateUser(t, testEmail, testPassword)
				app := newRP(t, env, clients.Spec{ID: "app", Trusted: true})
				app.conf.Scopes = append(app.conf.Scopes, "offline_access")
				v := oauth2.GenerateVerifier()
				loc := env.Authorize(t, env.Browser(t), app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), testEmail, testPassword)
				code := loc.Query().Get("code")
				tok, err := app.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
				if err != nil {
					t.Fatal(err)
				}
				inside := env.Config.AccessTokenTTL + 10*time.Second
				if when == "inside the leeway" {
					env.Clock.Advance(inside)
					wantAccepted(t, env, tok.AccessToken)
				}
				revoke(t, env, app, tok, code)
				wantRefused(t, env, tok.AccessToken)
				if when == "before exp" {
					env.Clock.Advance(inside)
				}
				if _, err := env.Tokens.Purge(context.Background(), 500); err != nil {
					t.Fatal(err)
				}
				wantRefused(t, env, tok.AccessToken)
				wantActive(t, introspectToken(t, env, credsOf(app), tok.AccessToken, ""), false)
				// Past the leeway the token is dead anyway and the entry goes.
				env.Clock.Advance(30 * time.Second)
				if _, err := env.Tokens.Purge(context.Background(), 500); err != nil {
					t.Fatal(err)
				}
				wantRefused(t, env, tok.AccessToken)
				if n := rowCount(t, env, "revoked_tokens", ""); n != 0 {
					t.Errorf("%d denylist entries outlive their token", n)
				}
			})
		}
	}
}

// TestPurgeDropsSealedChildren: the sealed response kept for a retried
// refresh goes once the grace window is over, and a retry after that is a
// reuse.
func TestPurgeDropsSealedChildren(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	app, tok := offlineTokens(t, env, clients.Spec{ID: "app", Trusted: true})
	child := mustRefresh(t, app, tok.RefreshToken)
	if _, err := env.Tokens.Purge(context.Background(), 500); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, env, "refresh_tokens", "child_sealed IS NOT NULL"); n != 1 {
		t.Fatalf("%d sealed children inside the grace window, want 1", n)
	}
	env.Clock.Advance(env.Config.RefreshReuseGrace + time.Second)
	if _, err := env.Tokens.Purge(context.Background(), 500); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, env, "refresh_tokens", "child_sealed IS NOT NULL OR child_until IS NOT NULL"); n != 0 {
		t.Fatalf("%d sealed children after the grace window", n)
	}
	wantError(t, refreshWith(t, env, credsOf(app), tok.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
	wantError(t, refreshWith(t, env, credsOf(app), child.RefreshToken, nil), http.StatusBadRequest, "invalid_grant")
}
