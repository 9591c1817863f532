package logout_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/clients"
	"idp/db"
	"idp/db/dbtest"
	"idp/logout"
	"idp/sessions"
	"idp/users"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// signer signs with a throwaway ES256 key, whatever alg is asked.
type signer struct{ key *ecdsa.PrivateKey }

func (s signer) Sign(_ context.Context, _ string, payload []byte, typ string) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: s.key}, opts)
	if err != nil {
		return "", err
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// env is a logout service wired to sessions and clients on a fresh
// database, with one user signed in whose session client "app" got
// tokens in.
type env struct {
	db       *db.DB
	clock    *clock
	svc      *logout.Service
	sessions *sessions.Service
	clients  *clients.Service
	userID   string
	sid      string
	logs     *bytes.Buffer
}

func newEnv(t *testing.T, rpURL string, cfg logout.Config) *env {
	t.Helper()
	d := dbtest.Open(t)
	c := &clock{t: time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	logs := &bytes.Buffer{}
	cfg.Issuer, cfg.Now, cfg.Logger = "https://idp.example", c.Now, slog.New(slog.NewTextHandler(logs, nil))
	cs := clients.NewService(clients.NewStore(d.Gorm), bytes.Repeat([]byte{1}, 32), c.Now)
	e := &env{db: d, clock: c, clients: cs, logs: logs,
		svc:      logout.NewService(logout.NewStore(d.Gorm), cs.Store(), signer{key}, cfg),
		sessions: sessions.NewService(sessions.NewStore(d.Gorm), time.Hour, c.Now)}
	e.sessions.OnEnd(e.svc.SessionsEnded, e.svc.Wake)
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, c.Now)
	u, err := us.Create(context.Background(), "ada@example.com", "correct horse battery staple", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, s, err := e.sessions.Start(context.Background(), u.ID, []string{"pwd"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	e.userID, e.sid = u.ID, s.ID
	if _, _, err := cs.Create(context.Background(), clients.Spec{ID: "app", RedirectURIs: []string{"https://app.example/cb"},
		Metadata: clients.Metadata{Logout: clients.Logout{BackchannelLogoutURI: rpURL}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SessionGranted(context.Background(), e.sid, "app"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) deliver(t *testing.T) int {
	t.Helper()
	n, err := e.svc.DeliverBatch(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) count(t *testing.T, state string) int64 {
	t.Helper()
	var n int64
	if err := e.db.Gorm.Table("logout_deliveries").Where("state = ?", state).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// rp counts POSTs and answers with status after delay.
func rp(t *testing.T, status int, delay time.Duration, hits *atomic.Int64, got *atomic.Value) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if got != nil {
			got.Store(r.PostFormValue("logout_token"))
		}
		time.Sleep(delay)
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestEndingTwiceQueuesOnce: the hook told twice of one session (two
// replicas ending it together) queues one delivery; a session nobody got
// tokens in queues none, and recording a grant twice is harmless.
func TestEndingTwiceQueuesOnce(t *testing.T) {
	var hits atomic.Int64
	srv := rp(t, http.StatusOK, 0, &hits, nil)
	e := newEnv(t, srv.URL, logout.Config{})
	ctx := context.Background()
	if err := e.svc.SessionGranted(ctx, e.sid, "app"); err != nil {
		t.Fatal(err)
	}
	ended := []sessions.Ended{{ID: e.sid, UserID: e.userID}, {ID: "no-such-session", UserID: e.userID}}
	for range 2 {
		if err := e.svc.SessionsEnded(ctx, ended); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(t, logout.StateQueued); n != 1 {
		t.Fatalf("%d queued, want 1", n)
	}
	if n := e.deliver(t); n != 1 || hits.Load() != 1 {
		t.Fatalf("delivered %d with %d POSTs", n, hits.Load())
	}
	// A grant recorded for a session that has ended records nothing.
	if err := e.sessions.End(ctx, e.userID, e.sid); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SessionGranted(ctx, e.sid, "app"); err != nil {
		t.Fatal(err)
	}
	var n int64
	e.db.Gorm.Table("session_clients").Count(&n)
	if n != 0 {
		t.Fatalf("%d session_clients rows after the session ended", n)
	}
}

// TestDroppedWhenTheClientStopsListening: a client that removed its
// back-channel URI (or was deleted) after the logout was queued is not
// called; the row is dropped, not retried.
func TestDroppedWhenTheClientStopsListening(t *testing.T) {
	var hits atomic.Int64
	srv := rp(t, http.StatusOK, 0, &hits, nil)
	e := newEnv(t, srv.URL, logout.Config{})
	ctx := context.Background()
	if err := e.sessions.End(ctx, e.userID, e.sid); err != nil {
		t.Fatal(err)
	}
	c, err := e.clients.Store().ByID(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	c.BackchannelLogoutURI = ""
	if err := e.clients.Store().Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := e.deliver(t); n != 0 || hits.Load() != 0 || e.count(t, logout.StateDropped) != 1 {
		t.Fatalf("delivered %d, %d POSTs, %d dropped", n, hits.Load(), e.count(t, logout.StateDropped))
	}
}

// TestTimeoutAndRedirectAreFailures: an answer slower than the timeout
// and a redirect (never followed) are failed attempts, retried later;
// the logs never hold the token.
func TestTimeoutAndRedirectAreFailures(t *testing.T) {
	for name, srv := range map[string]func(*testing.T, *atomic.Int64, *atomic.Value) *httptest.Server{
		"slow": func(t *testing.T, h *atomic.Int64, v *atomic.Value) *httptest.Server {
			return rp(t, http.StatusOK, time.Second, h, v)
		},
		"redirect": func(t *testing.T, h *atomic.Int64, v *atomic.Value) *httptest.Server {
			return rp(t, http.StatusFound, 0, h, v)
		},
	} {
		t.Run(name, func(t *testing.T) {
			var hits atomic.Int64
			var tok atomic.Value
			s := srv(t, &hits, &tok)
			e := newEnv(t, s.URL+"/bcl", logout.Config{Timeout: 100 * time.Millisecond, MaxAttempts: 2})
			if err := e.sessions.End(context.Background(), e.userID, e.sid); err != nil {
				t.Fatal(err)
			}
			if n := e.deliver(t); n != 0 || hits.Load() != 1 || e.count(t, logout.StateQueued) != 1 {
				t.Fatalf("first attempt: delivered %d, %d hits", n, hits.Load())
			}
			e.clock.Advance(time.Minute)
			if n := e.deliver(t); n != 0 || hits.Load() != 2 || e.count(t, logout.StateFailed) != 1 {
				t.Fatalf("second attempt: delivered %d, %d hits, %d failed", n, hits.Load(), e.count(t, logout.StateFailed))
			}
			raw, _ := tok.Load().(string)
			if raw == "" || strings.Contains(e.logs.String(), raw) {
				t.Fatalf("token %q missing or logged:\n%s", raw, e.logs.String())
			}
		})
	}
}

// TestFrontChannelURIs: iss and sid are added only for a client that asks.
func TestFrontChannelURIs(t *testing.T) {
	e := newEnv(t, "https://app.example/bcl", logout.Config{})
	ctx := context.Background()
	c, _ := e.clients.Store().ByID(ctx, "app")
	c.FrontchannelLogoutURI = "https://app.example/fcl?a=b"
	if err := e.clients.Store().Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.FrontChannel(ctx, e.sid)
	if err != nil || len(got) != 1 || got[0] != "https://app.example/fcl?a=b" {
		t.Fatalf("without session_required: %v, %v", got, err)
	}
	c.FrontchannelLogoutSessionRequired = true
	_ = e.clients.Store().Update(ctx, c)
	got, _ = e.svc.FrontChannel(ctx, e.sid)
	want := "https://app.example/fcl?a=b&iss=https%3A%2F%2Fidp.example&sid=" + e.sid
	if len(got) != 1 || got[0] != want {
		t.Fatalf("with session_required: %v, want %s", got, want)
	}
	if got, _ := e.svc.FrontChannel(ctx, "other"); len(got) != 0 {
		t.Fatalf("another session: %v", got)
	}
}

// TestRunWakesAfterTheEnd: the delivery loop posts the logout as soon as
// the transaction that ended the session commits, well before its poll.
func TestRunWakesAfterTheEnd(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.PostFormValue("logout_token")
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, srv.URL, logout.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := e.sessions.EndAll(context.Background(), e.userID); err != nil {
		t.Fatal(err)
	}
	select {
	case tok := <-got:
		if strings.Count(tok, ".") != 2 {
			t.Fatalf("not a JWT: %q", tok)
		}
	case <-time.After(3 * time.Second): // the poll is every 5 s
		t.Fatal("no logout delivered promptly after the session ended")
	}
}
