package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idp/app"
)

// runningServer is one `serve` running in a goroutine on a loopback port.
type runningServer struct {
	url    string // also the issuer
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startServe runs serve on 127.0.0.1:0 with d and extra flags, and waits
// until /readyz answers 200.
func startServe(t *testing.T, d testDB, extra ...string) *runningServer {
	t.Helper()
	return startServeAt(t, d, nil, extra...)
}

// startServeAt is startServe on the clock now (nil: the system clock).
func startServeAt(t *testing.T, d testDB, now func() time.Time, extra ...string) *runningServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &runningServer{url: "http://" + ln.Addr().String(), logs: &syncBuffer{}, done: make(chan error, 1)}
	cfg, err := parseServe(append(append(d.flags(), "--issuer", s.url), extra...)...)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	cfg.Now = now
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- serve(ctx, cfg, newLogger(s.logs, cfg.LogFormat), ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not return within 30s of cancellation")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-s.done:
			s.done <- err // for the cleanup
			t.Fatalf("serve returned before it was ready: %v\nlogs:\n%s", err, s.logs)
		default:
		}
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 after 30s (last: %v)\nlogs:\n%s", err, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels serve (as SIGTERM does) and returns what it returned.
func (s *runningServer) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return within 30s of cancellation")
		return nil
	}
}

// getJSON fetches url, which must answer 200, into v and returns the headers.
func getJSON(t *testing.T, url string, v any) http.Header {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
	return resp.Header
}

var adminPassword = regexp.MustCompile(`password=(\S+)`)

func TestServeFirstAndSecondStart(t *testing.T) {
	parallel(t)
	d := newTestDB(t) // empty: serve migrates and bootstraps it
	s := startServe(t, d)

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, s.url+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != s.url || disc.JWKSURI != s.url+"/.well-known/jwks.json" {
		t.Errorf("discovery: %+v, want issuer %s", disc, s.url)
	}
	var jwks struct {
		Keys []struct {
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	h := getJSON(t, disc.JWKSURI, &jwks)
	count := map[string]int{}
	var jwksKIDs []string
	for _, k := range jwks.Keys {
		count[k.Alg+"/"+k.Kty]++
		jwksKIDs = append(jwksKIDs, k.Kid)
		if k.D != "" || k.Use != "sig" || k.Kid == "" {
			t.Errorf("JWKS key %+v", k)
		}
	}
	if len(jwks.Keys) != 4 || count["RS256/RSA"] != 2 || count["ES256/EC"] != 2 {
		t.Errorf("JWKS: %v, want 2 RS256 and 2 ES256 keys", count)
	}
	if !strings.Contains(h.Get("Cache-Control"), "max-age=300") || h.Get("ETag") == "" {
		t.Errorf("JWKS headers: Cache-Control %q, ETag %q", h.Get("Cache-Control"), h.Get("ETag"))
	}

	// The admin commands work beside the running server.
	mustRun(t, "long enough password", d.cmd("users", "create", "--email", "live@example.com", "--password-stdin")...)

	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	logs := s.logs.String()
	if n := strings.Count(logs, "created the first user"); n != 1 {
		t.Fatalf("the first-user message appears %d times:\n%s", n, logs)
	}
	m := adminPassword.FindAllStringSubmatch(logs, -1)
	if len(m) != 1 {
		t.Fatalf("the admin password is logged %d times, want once:\n%s", len(m), logs)
	}
	for _, want := range []string{"shutting down", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	list := listUsers(t, d)
	if len(list) != 2 {
		t.Fatalf("users: %+v", list)
	}
	admin := list[slices.IndexFunc(list, func(u userJSON) bool { return u.Email == app.FirstUserEmail })]
	if admin.Email != "admin@localhost" || !slices.Contains(admin.Roles, "admin") || admin.Disabled {
		t.Fatalf("admin user: %+v", admin)
	}
	e := openTestEnv(t, d)
	if _, err := e.Users.Authenticate(t.Context(), "admin@localhost", m[0][1]); err != nil {
		t.Errorf("the logged admin password does not authenticate: %v", err)
	}
	keysBefore := listKeys(t, d)
	var listed []string
	for _, k := range keysBefore {
		listed = append(listed, k.KID)
	}
	slices.Sort(listed)
	slices.Sort(jwksKIDs)
	if !slices.Equal(listed, jwksKIDs) {
		t.Errorf("JWKS kids %v, keys list %v", jwksKIDs, listed)
	}

	// A second start changes nothing; JSON logs this time.
	s = startServe(t, d, "--log-format", "json")
	if err := s.stop(t); err != nil {
		t.Fatalf("second serve: %v", err)
	}
	logs = s.logs.String()
	if strings.Contains(logs, "created the first user") || strings.Contains(logs, `"password"`) {
		t.Errorf("second start created a user:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("--log-format json: line is not JSON: %s", line)
		}
	}
	if n := len(listUsers(t, d)); n != 2 {
		t.Errorf("after the second start: %d users, want 2", n)
	}
	if after := listKeys(t, d); !slices.Equal(after, keysBefore) {
		t.Errorf("the second start changed the keys:\n%+v\n%+v", keysBefore, after)
	}
}

// SIGTERM (the end of serve's context) lets an in-flight request finish.
// Not parallel: it sets the wrapHandler hook.
func TestServeGracefulShutdown(t *testing.T) {
	started, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(proceed) }) }
	wrapHandler = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(started)
				<-proceed
				r.URL.Path = "/healthz" // the real handler, with the database still open
			}
			h.ServeHTTP(w, r)
		})
	}
	t.Cleanup(func() { wrapHandler = nil })
	d := newTestDB(t)
	s := startServe(t, d)
	t.Cleanup(release) // on failure, before the server's cleanup waits for serve

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(s.url + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never arrived")
	}
	s.cancel() // SIGTERM

	// Shutdown has begun once the listener refuses new connections.
	addr := strings.TrimPrefix(s.url, "http://")
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts connections 10s after cancellation")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		t.Fatalf("serve returned (%v) while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()

	select {
	case r := <-res:
		if r.err != nil || r.code != http.StatusOK || r.body != "ok\n" {
			t.Fatalf("in-flight request: %d %q %v, want 200 ok", r.code, r.body, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request did not complete")
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("serve after a graceful shutdown: %v", err)
	}
	if !strings.Contains(s.logs.String(), "stopped") {
		t.Errorf("logs:\n%s", s.logs)
	}
}

func TestServeWrongMasterKey(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	if d.keyFile == "" {
		d.keyFile = writeKeyFile(t)
	}
	s := startServe(t, d)
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}

	wrong := d
	wrong.keyFile = writeKeyFile(t)
	cfg, err := parseServe(wrong.flags()...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	err = serve(t.Context(), cfg, newLogger(&logs, "text"), ln)
	if err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("serve with the wrong master key: %v, want an error about the master key", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("serve left the listener open after failing")
	}

	// Through the CLI: one line, exit 1; the admin commands refuse too.
	wantError(t, "", []string{"master key"}, wrong.cmd("serve", "--addr", "127.0.0.1:0")...)
	wantError(t, "", []string{"master key"}, wrong.cmd("keys", "list")...)
	wantError(t, "", []string{"master key"}, wrong.cmd("users", "list")...)
	// A missing or unsafe key file is one clear line as well.
	missing := d
	missing.keyFile = d.keyFile + ".missing"
	wantError(t, "", []string{"master key"}, missing.cmd("users", "list")...)
	wantError(t, "", []string{"master key"}, missing.cmd("serve", "--addr", "127.0.0.1:0")...)
	if _, err := os.Stat(missing.keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a master key was generated for a database with signing keys: %v", err)
	}

	// Nothing was written under the wrong key.
	if n := len(listKeys(t, d)); n != 4 {
		t.Errorf("%d keys after the refused starts, want 4", n)
	}
}

func TestServeListenError(t *testing.T) {
	parallel(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := newTestDB(t)
	wantError(t, "", []string{"listen on " + ln.Addr().String()}, d.cmd("serve", "--addr", ln.Addr().String())...)
	wantError(t, "", []string{"--addr"}, d.cmd("serve", "--addr", "nonsense")...)
}

// TestRuntimeDefaults: serve's memory limit and GC percent apply unless
// the operator set GOMEMLIMIT or GOGC, and then the operator's win.
func TestRuntimeDefaults(t *testing.T) {
	prevGC, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevGC); debug.SetMemoryLimit(prevLimit) })
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tune := setMemoryLimit(log)
	if gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); !tune || gc != gcPercentIdle || limit != defaultMemoryLimit {
		t.Errorf("defaults: tune %v, GOGC %d, limit %d; want true, %d, %d", tune, gc, limit, gcPercentIdle, defaultMemoryLimit)
	}

	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	tune = setMemoryLimit(log)
	if gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); tune || gc != 100 || limit != math.MaxInt64 {
		t.Errorf("operator's GOGC/GOMEMLIMIT overridden: tune %v, GOGC %d, limit %d", tune, gc, limit)
	}
}

// TestTuneGC: GOGC drops while passwords are hashed, stays low for the
// linger time after the last one, then returns to the idle value.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(gcPercentIdle)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	var hashing atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tuneGC(ctx, func() int { return int(hashing.Load()) }, time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })

	gcPercent := func() int {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}
	waitFor := func(want int, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for gcPercent() != want {
			if time.Since(start) > within {
				t.Fatalf("GOGC %d after %s, want %d", gcPercent(), within, want)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor(gcPercentIdle, time.Second)
	hashing.Store(2)
	waitFor(gcPercentHashing, time.Second)
	hashing.Store(0)
	if took := waitFor(gcPercentIdle, gcHashingLinger+2*time.Second); took < gcHashingLinger/2 {
		t.Errorf("GOGC went back up %s after the last hash; it should linger %s", took, gcHashingLinger)
	}
}
