// Package servertest runs the whole provider in-process for tests: a
// migrated database from dbtest (SQLite, or PostgreSQL when
// IDP_TEST_POSTGRES is set), a controllable clock, bootstrapped keys, and an
// httptest server whose URL is the issuer. NewCluster runs several such
// providers on one database behind a round-robin reverse proxy, as replicas
// behind a load balancer.
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

	"idp/app"
	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/db/dbtest"
	"idp/keys"
	"idp/mfa"
	"idp/resources"
	"idp/server"
	"idp/sessions"
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

// Env is a running provider and handles on its parts. URL is the issuer
// and HTTP the server answering there; for an instance of a Cluster, URL is
// the proxy's (so the helpers go through the load balancer) and HTTP is the
// instance's own backend.
type Env struct {
	URL     string
	HTTP    *httptest.Server
	Server  *server.Server
	Config  server.Config
	DB      *db.DB
	Clock   *Clock
	Keys    *keys.Manager
	Users   *users.Service
	Clients *clients.Service
	// Resources are the registered APIs.
	Resources *resources.Service
	Sessions  *sessions.Service
	Tokens    *tokens.Service
	Audit     *audit.Log
	MFA       *mfa.Service
	Master    keys.MasterKey
	// App is the wiring the parts above come from (app.New).
	App *app.App
}

// Option adjusts the configuration before the server is built.
type Option func(*server.Config)

// New starts a provider for t; everything is closed when t ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	d := dbtest.Open(t)
	clock, mk := newClock(), newMasterKey()
	// Start the listener first so the issuer can be its URL (the dex and
	// zitadel trick): the handler forwards to a server filled in below.
	front := newLateServer(t)
	e, err := build(d, config(front.URL, clock, mk, opts), clock, mk, app.MailConfig{})
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	front.set(e.Server)
	e.URL, e.HTTP = front.URL, front.Server
	return e
}

// newClock starts at the real time: relying-party libraries check expiry
// against their own clock.
func newClock() *Clock { return NewClock(time.Now().UTC().Truncate(time.Second)) }

// NewClock returns a Clock reading at until it is advanced.
func NewClock(at time.Time) *Clock { return &Clock{t: at} }

// newMasterKey returns a random master key.
func newMasterKey() keys.MasterKey {
	var mk keys.MasterKey
	_, _ = rand.Read(mk[:])
	return mk
}

// lateServer is an httptest server started before the handler it serves
// exists, so that handler's issuer can be the server's URL.
type lateServer struct {
	*httptest.Server
	mu      sync.RWMutex
	handler http.Handler
}

// newLateServer starts a lateServer, closed when t ends; it answers 503
// until set is called.
func newLateServer(t testing.TB) *lateServer {
	l := &lateServer{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.RLock()
		h := l.handler
		l.mu.RUnlock()
		if h == nil {
			http.Error(w, "servertest: not started yet", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(l.Server.Close)
	return l
}

func (l *lateServer) set(h http.Handler) {
	l.mu.Lock()
	l.handler = h
	l.mu.Unlock()
}

// config is the test configuration of a provider at issuer, after opts.
func config(issuer string, clock *Clock, mk keys.MasterKey, opts []Option) server.Config {
	cfg := server.Config{
		Issuer:              issuer,
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
	return cfg
}

// build wires one complete provider over d through app.New, the wiring
// idp serve uses: its own key manager (with its own key cache), services and
// server, as one idp process has. It records its serving policy and
// bootstraps the signing keys, which is safe to do from several providers
// on one database at once. It reports errors instead of failing a test so
// NewCluster can build providers in parallel; URL and HTTP are left to the
// caller.
func build(d *db.DB, cfg server.Config, clock *Clock, mk keys.MasterKey, mail app.MailConfig) (*Env, error) {
	a := app.New(d, mk, app.Config{
		Server:         cfg,
		RefreshIdleTTL: 336 * time.Hour, // serve's default
		Hashing:        users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Serving:        true,
		Mail:           mail,
		Now:            clock.Now,
		Logger:         cfg.Logger,
	})
	if err := a.Start(context.Background()); err != nil {
		return nil, err
	}
	srv, err := a.Server()
	if err != nil {
		return nil, err
	}
	return &Env{Server: srv, Config: a.ServerConfig(), DB: d, Clock: clock, Keys: a.Keys, Users: a.Users,
		Clients: a.Clients, Resources: a.Resources, Sessions: a.Sessions, Tokens: a.Tokens, Audit: a.Audit, MFA: a.MFA, Master: mk, App: a}, nil
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

// CreateResource registers an API and returns its introspection secret.
func (e *Env) CreateResource(t testing.TB, spec resources.Spec) string {
	t.Helper()
	_, secret, err := e.Resources.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("servertest: create resource: %v", err)
	}
	return secret
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
