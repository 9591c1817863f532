package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/clients"
	"idp/db"
	"idp/db/dbtest"
	"idp/oauth"
	"idp/tokens"
	"idp/users"
)

// codeEnv is a token service on a fresh database (SQLite, or PostgreSQL
// with IDP_TEST_POSTGRES) with one user and two clients to satisfy the
// foreign keys.
type codeEnv struct {
	svc           *tokens.Service
	db            *db.DB
	clock         *tokens.FakeClock
	user          *users.User
	client, other *clients.Client
}

const codeRedirect = "https://app.example/cb"

func newCodeEnv(t testing.TB) *codeEnv {
	t.Helper()
	ctx := context.Background()
	d := dbtest.Open(t)
	clock := tokens.NewFakeClock()
	key := tokens.NewThrowawayKey(t, "test-key")
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, clock.Now)
	u, err := us.Create(ctx, "ada@example.com", "correct horse battery staple", "Ada", []string{"staff"})
	if err != nil {
		t.Fatal(err)
	}
	cs := clients.NewService(clients.NewStore(d.Gorm), make([]byte, 32), clock.Now)
	e := &codeEnv{db: d, clock: clock, user: u}
	for _, p := range []struct {
		c  **clients.Client
		id string
	}{{&e.client, "app"}, {&e.other, "other-app"}} {
		if *p.c, _, err = cs.Create(ctx, clients.Spec{ID: p.id, RedirectURIs: []string{codeRedirect}}); err != nil {
			t.Fatal(err)
		}
	}
	e.svc = tokens.NewService(tokens.NewStore(d.Gorm), key, key, us.Store(), tokens.Config{
		Issuer: "https://idp.example", AccessTokenTTL: 10 * time.Minute, Now: clock.Now,
	})
	return e
}

// request returns a validated authorization request of the app client.
func (e *codeEnv) request(challenge string) *tokens.AuthRequest {
	maxAge := 300
	r := &tokens.AuthRequest{
		ClientID: e.client.ID, RedirectURI: codeRedirect, ResponseMode: oauth.ResponseModeQuery,
		Scopes: []string{"openid", "email"}, State: "st", Nonce: "n", Prompt: []string{"login", "consent"},
		MaxAge: &maxAge, LoginHint: "ada", Resources: []string{"https://api.example"},
	}
	if challenge != "" {
		r.CodeChallenge, r.CodeChallengeMethod = challenge, oauth.PKCES256
	}
	return r
}

func (e *codeEnv) rows(t *testing.T, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	tx := e.db.Gorm.Table(table)
	if where != "" {
		tx = tx.Where(where, args...)
	}
	if err := tx.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAuthRequestRoundTripAndExpiry(t *testing.T) {
	e := newCodeEnv(t)
	ctx := context.Background()
	r := e.request(oauth.S256Challenge("v-123456789012345678901234567890123456789012"))
	if err := e.svc.SaveAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || !r.ExpiresAt.Equal(e.clock.Now().Add(30*time.Minute)) {
		t.Fatalf("saved request id %q, expiry %v", r.ID, r.ExpiresAt)
	}
	e.clock.Advance(30*time.Minute - time.Second)
	got, err := e.svc.AuthRequest(ctx, r.ID)
	if err != nil {
		t.Fatalf("a live request: %v", err)
	}
	want := fmt.Sprintf("%s %s %v %s %s %s %v %d %s %v", r.ClientID, r.RedirectURI, r.Scopes, r.State, r.Nonce,
		r.CodeChallenge, r.Prompt, *r.MaxAge, r.LoginHint, r.Resources)
	if g := fmt.Sprintf("%s %s %v %s %s %s %v %d %s %v", got.ClientID, got.RedirectURI, got.Scopes, got.State, got.Nonce,
		got.CodeChallenge, got.Prompt, *got.MaxAge, got.LoginHint, got.Resources); g != want {
		t.Errorf("round trip:\n got %s\nwant %s", g, want)
	}
	if got.LoggedInAt != nil {
		t.Errorf("LoggedInAt %v before any sign-in", got.LoggedInAt)
	}
	if err := e.svc.MarkLoggedIn(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.AuthRequest(ctx, r.ID); err != nil || got.LoggedInAt == nil {
		t.Errorf("after MarkLoggedIn: %+v, %v", got, err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.AuthRequest(ctx, r.ID); !errors.Is(err, tokens.ErrRequestGone) {
		t.Errorf("an expired request: %v, want ErrRequestGone", err)
	}
}

func TestAuthRequestUnknownIDs(t *testing.T) {
	e := newCodeEnv(t)
	for _, id := range []string{"", "nope", strings.Repeat("a", 65), "' OR 1=1 --"} {
		if _, err := e.svc.AuthRequest(context.Background(), id); !errors.Is(err, tokens.ErrRequestGone) {
			t.Errorf("AuthRequest(%q) = %v, want ErrRequestGone", id, err)
		}
	}
}

func TestIssueCodeAnswersARequestOnce(t *testing.T) {
	e := newCodeEnv(t)
	ctx := context.Background()
	r := e.request("")
	if err := e.svc.SaveAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	code, err := e.svc.IssueCode(ctx, r, tokens.Authn{UserID: e.user.ID, SessionID: "sess", AuthTime: e.clock.Now()})
	if err != nil || code == "" {
		t.Fatalf("first IssueCode: %q, %v", code, err)
	}
	if _, err := e.svc.AuthRequest(ctx, r.ID); !errors.Is(err, tokens.ErrRequestGone) {
		t.Errorf("the answered request is still live: %v", err)
	}
	again, err := e.svc.IssueCode(ctx, r, tokens.Authn{UserID: e.user.ID, SessionID: "sess", AuthTime: e.clock.Now()})
	if !errors.Is(err, tokens.ErrRequestGone) || again != "" {
		t.Errorf("second IssueCode: %q, %v; want ErrRequestGone", again, err)
	}
	if n := e.rows(t, "auth_codes", ""); n != 1 {
		t.Errorf("%d codes for one request", n)
	}
	if n := e.rows(t, "auth_codes", "code_hash = ?", code); n != 0 {
		t.Error("the code is stored in the clear")
	}
}

// TestIssueCodeDoubleSubmit: a user double-clicking Allow sends two
// requests at once; exactly one code comes of it.
func TestIssueCodeDoubleSubmit(t *testing.T) {
	e := newCodeEnv(t)
	ctx := context.Background()
	r := e.request("")
	if err := e.svc.SaveAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.svc.IssueCode(ctx, r, tokens.Authn{UserID: e.user.ID, SessionID: "sess", AuthTime: e.clock.Now()})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, tokens.ErrRequestGone):
			t.Errorf("a loser got %v, want ErrRequestGone", err)
		}
	}
	if won != 1 || e.rows(t, "auth_codes", "") != 1 {
		t.Errorf("%d IssueCode calls succeeded, %d codes stored; want 1", won, e.rows(t, "auth_codes", ""))
	}
}

// TestRedeemCodeRace: 20 concurrent redemptions of one code (on SQLite and,
// with IDP_TEST_POSTGRES, PostgreSQL): exactly one gets a grant, the rest
// invalid_grant — and since that is a replay, the winner's access token is
// revoked too (RFC 6749 §4.1.2).
func TestRedeemCodeRace(t *testing.T) {
	e := newCodeEnv(t)
	ctx := context.Background()
	verifier := "race-verifier-0123456789012345678901234567890"
	code := e.issue(t, e.request(oauth.S256Challenge(verifier)))
	const n = 20
	grants := make([]*tokens.Grant, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			grants[i], errs[i] = e.svc.RedeemCode(ctx, e.client, code, codeRedirect, verifier, nil, tokens.Meta{})
		})
	}
	close(start)
	wg.Wait()
	var winner *tokens.Grant
	for i, err := range errs {
		switch {
		case err == nil && winner == nil:
			winner = grants[i]
		case err == nil:
			t.Errorf("a second redemption succeeded")
		case !errors.Is(err, oauth.InvalidGrant("")):
			t.Errorf("a loser got %v, want invalid_grant", err)
		}
	}
	if winner == nil {
		t.Fatal("no redemption succeeded")
	}
	if winner.UserID != e.user.ID || winner.ClientID != e.client.ID || winner.JTI == "" {
		t.Errorf("grant %+v", winner)
	}
	if n := e.rows(t, "auth_codes", "used_at IS NOT NULL"); n != 1 {
		t.Errorf("%d used codes", n)
	}
	if revoked, err := e.svc.Store().Revoked(ctx, winner.JTI); err != nil || !revoked {
		t.Errorf("the winner's access token after the replays: revoked %v, %v", revoked, err)
	}
}

// issue saves r and answers it with a code for the env's user.
func (e *codeEnv) issue(t testing.TB, r *tokens.AuthRequest) string {
	t.Helper()
	ctx := context.Background()
	if err := e.svc.SaveAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	code, err := e.svc.IssueCode(ctx, r, tokens.Authn{UserID: e.user.ID, SessionID: "sess", AuthTime: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestRedeemCodeChecksBindingsBeforeClaiming(t *testing.T) {
	const verifier = "binding-verifier-01234567890123456789012345678"
	cases := []struct {
		name                   string
		other                  bool
		code, redirect, verify string
		advance                time.Duration
		survives               bool
	}{
		{name: "another client", other: true, survives: true},
		{name: "redirect_uri mismatch", redirect: codeRedirect + "/", survives: true},
		{name: "wrong verifier", verify: "wrong-verifier-0123456789012345678901234567890", survives: true},
		{name: "verifier missing", verify: "-", survives: true},
		{name: "unknown code", code: "nope", survives: true},
		{name: "overlong code", code: strings.Repeat("c", 300), survives: true},
		{name: "expired", advance: time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newCodeEnv(t)
			ctx := context.Background()
			code := e.issue(t, e.request(oauth.S256Challenge(verifier)))
			e.clock.Advance(tc.advance)
			client, c, redirect, v := e.client, code, codeRedirect, verifier
			if tc.other {
				client = e.other
			}
			if tc.code != "" {
				c = tc.code
			}
			if tc.redirect != "" {
				redirect = tc.redirect
			}
			switch tc.verify {
			case "-":
				v = ""
			case "":
			default:
				v = tc.verify
			}
			if g, err := e.svc.RedeemCode(ctx, client, c, redirect, v, nil, tokens.Meta{}); !errors.Is(err, oauth.InvalidGrant("")) || g != nil {
				t.Fatalf("RedeemCode = %+v, %v; want invalid_grant", g, err)
			}
			if n := e.rows(t, "auth_codes", "used_at IS NOT NULL"); n != 0 {
				t.Errorf("a refused redemption claimed the code")
			}
			_, err := e.svc.RedeemCode(ctx, e.client, code, codeRedirect, verifier, nil, tokens.Meta{})
			if (err == nil) != tc.survives {
				t.Errorf("the right redemption afterwards: %v (should work: %v)", err, tc.survives)
			}
		})
	}
}

func TestRemembersConsentAsAUnion(t *testing.T) {
	e := newCodeEnv(t)
	ctx := context.Background()
	need := func(scopes ...string) bool {
		t.Helper()
		ok, err := e.svc.NeedsConsent(ctx, e.user.ID, e.client.ID, false, scopes)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !need("openid") {
		t.Error("no consent needed before any was given")
	}
	if ok, _ := e.svc.NeedsConsent(ctx, e.user.ID, e.client.ID, true, []string{"openid"}); ok {
		t.Error("a trusted client needs consent")
	}
	for _, g := range [][]string{{"openid", "email"}, {"openid", "profile"}} {
		if err := e.svc.GrantConsent(ctx, e.user.ID, e.client.ID, g); err != nil {
			t.Fatal(err)
		}
	}
	if need("openid", "email", "profile") || need("email") {
		t.Error("approved scopes are asked for again")
	}
	if !need("openid", "offline_access") {
		t.Error("a new scope is not asked for")
	}
	if ok, _ := e.svc.NeedsConsent(ctx, e.user.ID, e.other.ID, false, []string{"openid"}); !ok {
		t.Error("consent for one client counts for another")
	}
}

// BenchmarkRedeemCode measures redeeming an authorization code with PKCE in
// the store (load, bindings, the claim transaction); issuing each code is
// not timed. SQLite by default, PostgreSQL with IDP_TEST_POSTGRES.
func BenchmarkRedeemCode(b *testing.B) {
	e := newCodeEnv(b)
	ctx := context.Background()
	verifier := strings.Repeat("v", 43)
	challenge := oauth.S256Challenge(verifier)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		code := e.issue(b, e.request(challenge))
		b.StartTimer()
		if _, err := e.svc.RedeemCode(ctx, e.client, code, codeRedirect, verifier, nil, tokens.Meta{}); err != nil {
			b.Fatal(err)
		}
	}
}
