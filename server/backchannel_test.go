package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"idp/admin"
	"idp/clients"
	"idp/logout"
	"idp/server/servertest"
)

// logoutRP is an in-test relying service's back-channel logout endpoint:
// it records every logout token it receives and answers with the next of
// its statuses (200 once they run out).
type logoutRP struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	tokens   []string // every logout_token received
	ok       []string // those it answered 2xx
}

func newLogoutRP(t *testing.T, statuses ...int) *logoutRP {
	t.Helper()
	r := &logoutRP{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "want a form POST", http.StatusBadRequest)
			return
		}
		tok := req.PostFormValue("logout_token")
		r.mu.Lock()
		defer r.mu.Unlock()
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.tokens = append(r.tokens, tok)
		if status < 300 {
			r.ok = append(r.ok, tok)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// received returns the tokens received and those accepted.
func (r *logoutRP) received() (all, ok []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...), append([]string(nil), r.ok...)
}

// bclEnv is a signed-in browser of "app", a client with a back-channel
// logout URI at rp, and the sid of its ID token.
type bclEnv struct {
	*signedIn
	rp  *logoutRP
	sid string
}

func newBCL(t *testing.T, env *servertest.Env, rp *logoutRP, alg string) *bclEnv {
	t.Helper()
	s := &signedIn{env: env, browser: env.Browser(t), user: env.CreateUser(t, testEmail, testPassword)}
	s.app = newRP(t, env, clients.Spec{ID: "app", Name: "The App", Trusted: true, PostLogoutRedirectURIs: []string{byeURI},
		SigningAlg: alg, Metadata: clients.Metadata{Logout: clients.Logout{BackchannelLogoutURI: rp.URL + "/bcl",
			BackchannelLogoutSessionRequired: true}}})
	s.idToken, _ = s.codeFlow(t, s.browser, testEmail).Extra("id_token").(string)
	var claims struct {
		SID string `json:"sid"`
	}
	decodeInto(t, []byte(decodeSegment(t, strings.Split(s.idToken, ".")[1])), &claims)
	if claims.SID == "" {
		t.Fatal("the ID token has no sid")
	}
	return &bclEnv{signedIn: s, rp: rp, sid: claims.SID}
}

// deliver runs the delivery loop once, as the background loop would.
func deliver(t *testing.T, env *servertest.Env) int {
	t.Helper()
	n, err := env.App.Logout.DeliverBatch(context.Background(), 100)
	if err != nil {
		t.Fatalf("deliver logouts: %v", err)
	}
	return n
}

// wantOneLogout checks that rp accepted exactly one logout token, and
// that it is a valid one for sub's session sid.
func wantOneLogout(t *testing.T, env *servertest.Env, rp *logoutRP, sub, sid, alg string) {
	t.Helper()
	_, ok := rp.received()
	if len(ok) != 1 {
		t.Fatalf("relying party accepted %d logout tokens, want 1", len(ok))
	}
	checkLogoutToken(t, env, ok[0], "app", sub, sid, alg)
}

// checkLogoutToken verifies tok over idp's JWKS and checks its claims
// (Back-Channel Logout 1.0 §2.4, §2.6).
func checkLogoutToken(t *testing.T, env *servertest.Env, tok, aud, sub, sid, alg string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	h := jws.Signatures[0].Protected
	if h.ExtraHeaders["typ"] != logout.TokenType || h.Algorithm != alg || h.KeyID == "" {
		t.Fatalf("header %+v, want typ logout+jwt, alg %s, a kid", h, alg)
	}
	resp, err := http.Get(env.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s is not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	now := float64(env.Clock.Now().Unix())
	events, _ := c["events"].(map[string]any)
	if _, ok := events[logout.EventBackchannelLogout]; !ok || len(events) != 1 {
		t.Errorf("events %v", c["events"])
	}
	if _, ok := c["nonce"]; ok {
		t.Error("the logout token carries a nonce")
	}
	exp, _ := c["exp"].(float64)
	iat, _ := c["iat"].(float64)
	if c["iss"] != env.URL || c["aud"] != aud || c["sub"] != sub || c["sid"] != sid || c["jti"] == "" ||
		iat > now+1 || exp <= iat || exp > iat+300 {
		t.Errorf("claims %v; want iss %s aud %s sub %s sid %s and a short life", c, env.URL, aud, sub, sid)
	}
}

// TestBackchannelLogoutEndSession: RP-initiated logout ends the session
// and the relying service receives exactly one valid logout token for the
// ID token's sid, signed with the client's algorithm.
func TestBackchannelLogoutEndSession(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			env := servertest.New(t)
			rp := newLogoutRP(t)
			s := newBCL(t, env, rp, alg)
			if n := deliver(t, env); n != 0 {
				t.Fatalf("%d logouts before any sign-out", n)
			}
			resp, _ := s.endSession(t, url.Values{"id_token_hint": {s.idToken}, "post_logout_redirect_uri": {byeURI}, "state": {"st"}})
			wantLoggedOutTo(t, resp, "st")
			if n := deliver(t, env); n != 1 {
				t.Fatalf("delivered %d, want 1", n)
			}
			if n := deliver(t, env); n != 0 {
				t.Fatalf("delivered again: %d", n)
			}
			wantOneLogout(t, env, rp, s.user.ID, s.sid, alg)
		})
	}
}

// TestBackchannelLogoutAccountPage: "sign out this session" and "sign out
// everywhere" on the account page each tell the relying service once
// per session that had its tokens.
func TestBackchannelLogoutAccountPage(t *testing.T) {
	t.Parallel()
	t.Run("this session", func(t *testing.T) {
		t.Parallel()
		env := servertest.New(t)
		rp := newLogoutRP(t)
		s := newBCL(t, env, rp, "RS256")
		_, page := env.Get(t, s.browser, "/account")
		resp, _ := env.PostForm(t, s.browser, "/account/sessions/revoke", url.Values{"csrf_token": {page.CSRF()}, "id": {s.sid}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign out this session: %d", resp.StatusCode)
		}
		deliver(t, env)
		wantOneLogout(t, env, rp, s.user.ID, s.sid, "RS256")
	})
	t.Run("everywhere", func(t *testing.T) {
		t.Parallel()
		env := servertest.New(t)
		rp := newLogoutRP(t)
		s := newBCL(t, env, rp, "RS256")
		other := env.Browser(t)
		tok := s.codeFlow(t, other, testEmail) // a second session with the app's tokens
		otherSID := sidOf(t, tok)
		_, page := env.Get(t, s.browser, "/account")
		env.PostForm(t, s.browser, "/account/logout-all", url.Values{"csrf_token": {page.CSRF()}})
		if n := deliver(t, env); n != 2 {
			t.Fatalf("delivered %d, want one per session", n)
		}
		_, ok := rp.received()
		sids := map[string]bool{}
		for _, tok := range ok {
			var c struct {
				SID string `json:"sid"`
			}
			decodeInto(t, []byte(decodeSegment(t, strings.Split(tok, ".")[1])), &c)
			sids[c.SID] = true
			checkLogoutToken(t, env, tok, "app", s.user.ID, c.SID, "RS256")
		}
		if len(ok) != 2 || !sids[s.sid] || !sids[otherSID] {
			t.Fatalf("logouts for %v, want %s and %s", sids, s.sid, otherSID)
		}
	})
}

// sidOf is the sid of tok's ID token.
func sidOf(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	var c struct {
		SID string `json:"sid"`
	}
	decodeInto(t, []byte(decodeSegment(t, strings.Split(raw, ".")[1])), &c)
	return c.SID
}

// TestBackchannelLogoutAdmin: an admin disabling the user, or ending the
// session, tells the relying service.
func TestBackchannelLogoutAdmin(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"disable", "end session"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			env := servertest.New(t)
			rp := newLogoutRP(t)
			s := newBCL(t, env, rp, "RS256")
			ctx, actor, ref := context.Background(), admin.Actor{Name: "root"}, admin.UserRef{ID: s.user.ID}
			var err error
			if how == "disable" {
				_, err = env.App.Admin.DisableUser(ctx, actor, ref)
			} else {
				err = env.App.Admin.EndSession(ctx, actor, ref, s.sid)
			}
			if err != nil {
				t.Fatal(err)
			}
			deliver(t, env)
			wantOneLogout(t, env, rp, s.user.ID, s.sid, "RS256")
		})
	}
}

// TestBackchannelLogoutPasswordReset: a password reset ends every session
// of the user, and the relying service hears of it.
func TestBackchannelLogoutPasswordReset(t *testing.T) {
	t.Parallel()
	env, srv := resetEnv(t)
	rp := newLogoutRP(t)
	s := newBCL(t, env, rp, "RS256")
	requestReset(t, env, env.Browser(t), testEmail)
	if page := choosePassword(t, env, env.Browser(t), mailedLink(t, env, srv, testEmail), newPassword); page.Status >= 400 {
		t.Fatalf("reset: %d", page.Status)
	}
	deliver(t, env)
	wantOneLogout(t, env, rp, s.user.ID, s.sid, "RS256")
}

// TestBackchannelLogoutExpiry: a session that reaches its absolute expiry
// is ended by the purge, which tells the relying service.
func TestBackchannelLogoutExpiry(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	rp := newLogoutRP(t)
	s := newBCL(t, env, rp, "RS256")
	env.Clock.Advance(env.Config.SessionTTL)
	if _, err := env.App.Purge(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	deliver(t, env)
	wantOneLogout(t, env, rp, s.user.ID, s.sid, "RS256")
}

// TestBackchannelLogoutRetries: a relying service that answers 500 is
// tried again after the backoff and, once it answers 200, never again; one
// that keeps failing is given up after the limit, and the failure is in
// the audit log.
func TestBackchannelLogoutRetries(t *testing.T) {
	t.Parallel()
	t.Run("recovers", func(t *testing.T) {
		t.Parallel()
		env := servertest.New(t)
		rp := newLogoutRP(t, http.StatusInternalServerError)
		s := newBCL(t, env, rp, "RS256")
		s.endSession(t, url.Values{"id_token_hint": {s.idToken}})
		if n := deliver(t, env); n != 0 {
			t.Fatalf("a 500 counted as delivered")
		}
		if n := deliver(t, env); n != 0 {
			t.Fatal("retried before the backoff")
		}
		env.Clock.Advance(time.Minute)
		if n := deliver(t, env); n != 1 {
			t.Fatalf("retry delivered %d", n)
		}
		env.Clock.Advance(time.Hour)
		deliver(t, env)
		all, _ := rp.received()
		if len(all) != 2 {
			t.Fatalf("%d attempts, want 2", len(all))
		}
		wantOneLogout(t, env, rp, s.user.ID, s.sid, "RS256")
	})
	t.Run("gives up", func(t *testing.T) {
		t.Parallel()
		env := servertest.New(t)
		fails := make([]int, 20)
		for i := range fails {
			fails[i] = http.StatusBadGateway
		}
		rp := newLogoutRP(t, fails...)
		s := newBCL(t, env, rp, "RS256")
		s.endSession(t, url.Values{"id_token_hint": {s.idToken}})
		for range 10 {
			deliver(t, env)
			env.Clock.Advance(time.Hour)
		}
		if all, _ := rp.received(); len(all) != 6 {
			t.Fatalf("%d attempts, want the limit of 6", len(all))
		}
		if n := rowCount(t, env, "logout_deliveries", "state = ? AND attempts = ?", logout.StateFailed, 6); n != 1 {
			t.Fatalf("%d failed rows", n)
		}
		if n := rowCount(t, env, "audit_events", "action = ? AND target = ?", "logout.backchannel_failed", "app"); n != 1 {
			t.Fatalf("%d audit events of the failure", n)
		}
		_, queued, failed := logoutCounts(t, env)
		if queued != 0 || failed != 1 {
			t.Fatalf("counts queued %d failed %d", queued, failed)
		}
		resp, err := http.Get(env.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `idp_backchannel_logouts{state="failed"} 1`) {
			t.Fatalf("/metrics lacks the failure:\n%s", body)
		}
	})
}

// logoutCounts reads the queue's counts.
func logoutCounts(t *testing.T, env *servertest.Env) (delivered, queued, failed int64) {
	t.Helper()
	q, d, f, err := env.App.Logout.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d, q, f
}

// TestBackchannelLogoutOnlyForItsClients: a client without a back-channel
// URI, or one that got no tokens in the session, is not told.
func TestBackchannelLogoutOnlyForItsClients(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	rp, bystander := newLogoutRP(t), newLogoutRP(t)
	s := newBCL(t, env, rp, "RS256")
	env.CreateClient(t, clients.Spec{ID: "bystander", RedirectURIs: []string{testRedirect},
		Metadata: clients.Metadata{Logout: clients.Logout{BackchannelLogoutURI: bystander.URL + "/bcl"}}})
	s.endSession(t, url.Values{"id_token_hint": {s.idToken}})
	deliver(t, env)
	wantOneLogout(t, env, rp, s.user.ID, s.sid, "RS256")
	if all, _ := bystander.received(); len(all) != 0 {
		t.Fatalf("a client outside the session got %d logout tokens", len(all))
	}
}
