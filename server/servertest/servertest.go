// Package servertest runs the whole provider in-process for tests: a
// migrated database from dbtest (SQLite, or PostgreSQL when
// IDP_TEST_POSTGRES is set), a controllable clock, bootstrapped keys, and an
// httptest server whose URL is the issuer.
package servertest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/db/dbtest"
	"idp/keys"
	"idp/server"
	"idp/sessions"
	"idp/templates"
	"idp/tokens"
	"idp/users"
)

// Clock is a settable clock shared by the server and the test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Env is a running provider and handles on its parts.
type Env struct {
	URL      string
	HTTP     *httptest.Server
	Server   *server.Server
	Config   server.Config
	DB       *db.DB
	Clock    *Clock
	Keys     *keys.Manager
	Users    *users.Service
	Clients  *clients.Service
	Sessions *sessions.Service
	Tokens   *tokens.Service
	Audit    *audit.Log
	Master   keys.MasterKey
}

// Option adjusts the configuration before the server is built.
type Option func(*server.Config)

// New starts a provider for t; everything is closed when t ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	d := dbtest.Open(t)
	// Start at the real time: relying-party libraries check expiry against
	// their own clock.
	clock := &Clock{t: time.Now().UTC().Truncate(time.Second)}
	var mk keys.MasterKey
	_, _ = rand.Read(mk[:])

	// Start the listener first so the issuer can be its URL (the dex and
	// zitadel trick): the handler forwards to a server filled in below.
	var (
		mu      sync.RWMutex
		handler http.Handler
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)

	cfg := server.Config{
		Issuer:              ts.URL,
		AccessTokenTTL:      10 * time.Minute,
		RefreshTokenTTL:     720 * time.Hour,
		RefreshReuseGrace:   10 * time.Second,
		JWKSMaxAge:          5 * time.Minute,
		SessionTTL:          24 * time.Hour,
		KeyRotationInterval: 720 * time.Hour,
		CSRFKey:             mk.Derive("csrf"),
		Now:                 clock.Now,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	auditLog := audit.New(audit.NewStore(d.Gorm), clock.Now, cfg.Logger)
	km := keys.NewManager(d.Gorm, mk, keys.Options{
		OnEvent: func(ctx context.Context, action, kid, detail string) {
			auditLog.Record(ctx, action, kid, detail)
		},
		Now:              clock.Now,
		TokenTTL:         cfg.AccessTokenTTL,
		JWKSMaxAge:       cfg.JWKSMaxAge,
		RotationInterval: cfg.KeyRotationInterval,
		Logger:           cfg.Logger,
	})
	if err := km.Bootstrap(context.Background()); err != nil {
		t.Fatalf("servertest: bootstrap keys: %v", err)
	}
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, clock.Now)
	cs := clients.NewService(clients.NewStore(d.Gorm), mk.Derive("client-secret"), clock.Now)
	tpl, err := templates.Default()
	if err != nil {
		t.Fatalf("servertest: templates: %v", err)
	}
	ss := sessions.NewService(sessions.NewStore(d.Gorm), cfg.SessionTTL, clock.Now)
	ts2 := tokens.NewService(tokens.NewStore(d.Gorm), km, km, us.Store(), tokens.Config{
		Issuer: cfg.Issuer, AccessTokenTTL: cfg.AccessTokenTTL, RefreshTokenTTL: cfg.RefreshTokenTTL,
		ReuseGrace: cfg.RefreshReuseGrace, SealKey: mk.Derive("refresh-response"), Now: clock.Now,
		Audit: auditLog,
	})
	srv, err := server.New(cfg, server.Deps{DB: d, Keys: km, Users: us, Clients: cs, Sessions: ss, Tokens: ts2, Templates: tpl, Audit: auditLog})
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	mu.Lock()
	handler = srv
	mu.Unlock()
	return &Env{URL: ts.URL, HTTP: ts, Server: srv, Config: cfg, DB: d, Clock: clock, Keys: km, Users: us,
		Clients: cs, Sessions: ss, Tokens: ts2, Audit: auditLog, Master: mk}
}

// CreateUser adds a user and fails the test on error.
func (e *Env) CreateUser(t testing.TB, email, password string, roles ...string) *users.User {
	t.Helper()
	u, err := e.Users.Create(context.Background(), email, password, "", roles)
	if err != nil {
		t.Fatalf("servertest: create user: %v", err)
	}
	return u
}

// CreateClient adds a client and returns it with its secret.
func (e *Env) CreateClient(t testing.TB, spec clients.Spec) (*clients.Client, string) {
	t.Helper()
	c, secret, err := e.Clients.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("servertest: create client: %v", err)
	}
	return c, secret
}

// Browser returns an HTTP client with a cookie jar, like a user's browser,
// that does not follow redirects: tests inspect each hop.
func (e *Env) Browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
