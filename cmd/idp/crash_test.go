package main

// The crash-safety test: the real binary, a real SQLite file, and SIGKILL
// in the middle of sign-ins, refreshes and forced key rotations. After every
// restart the database must be intact and consistent, and every token a
// client was handed before the crash must still be honoured.
//
// It builds the binary and runs for tens of seconds, so it only runs when
// IDP_CRASH_TEST=1 (.ci/run sets it):
//
//	IDP_CRASH_TEST=1 go test -count=1 -run Crash -v ./cmd/idp/
//
// IDP_CRASH_ROUNDS overrides the number of crashes (default 8) for a
// longer soak.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/mattn/go-sqlite3" // database/sql driver for the checks
	"golang.org/x/oauth2"

	"idp/oauth"
	"idp/server/servertest"
)

const (
	crashEmail    = "crash@example.com"
	crashPassword = "test password of the kill run"
	crashRedirect = "http://127.0.0.1:9/cb"
	// crashGrace is the server's --refresh-reuse-grace: a refresh whose
	// response a crash swallowed is retried after the restart, which must
	// happen inside it. The default 10s would do; 60s keeps a slow CI
	// machine from turning a correct retry into a family revocation.
	crashGrace = 60 * time.Second
)

// crashApp is one confidential client of the test.
type crashApp struct{ id, secret, alg string }

// crashToken is a JWT the test was handed: an access or ID token.
type crashToken struct {
	raw, kid, alg, kind string
	app                 *crashApp
	exp                 time.Time
}

// crashChain is one worker's refresh-token chain: last is the newest
// refresh token the worker received, which must stay usable whatever
// happens to the requests that present it. pending is the refresh token of
// a response the worker pretended never arrived: its retry of last must be
// answered with that same token.
type crashChain struct {
	app     *crashApp
	last    string
	pending string
	// dropper chains lose the response of their last refresh before each
	// crash, so every restart sees lost responses retried.
	dropper bool
}

// crashStats are the figures the test reports.
type crashStats struct {
	signIns, exchanges, refreshes, dupRaces, lost      atomic.Int64
	rotations, rotationsKilled, retried, freshRedeemed atomic.Int64
	swallowed, dropped                                 atomic.Int64
	verified, maxTokensVerified, jwksKeys, refreshRows atomic.Int64
}

type crashHarness struct {
	t                        *testing.T
	bin, dir, dbPath, issuer string
	addr                     string
	apps                     []*crashApp
	authURL, tokenURL        string

	mu     sync.Mutex
	tokens []crashToken
	fresh  []crashFresh // refresh tokens from sign-ins, never used yet
	fails  []string

	killed    atomic.Bool // set just before the server is killed
	dropPhase atomic.Bool // set shortly before: dropper chains lose a response
	stats     crashStats

	srv *crashServer
	tr  *http.Transport
	// browsers are the cookie jars of the sign-in workers: they keep their
	// SSO sessions across crashes, as real browsers would.
	browsers []http.CookieJar
}

type crashFresh struct {
	app   *crashApp
	token string
}

type crashServer struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func TestCrashSafety(t *testing.T) {
	if os.Getenv("IDP_CRASH_TEST") != "1" {
		t.Skip("crash-safety test skipped: it builds the idp binary and SIGKILLs it under load for about 30 s; set IDP_CRASH_TEST=1 to run it (.ci/run does)")
	}
	rounds := 8
	if v, err := strconv.Atoi(os.Getenv("IDP_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	start := time.Now()
	h := &crashHarness{t: t, dir: t.TempDir()}
	h.dbPath = filepath.Join(h.dir, "idp.db")
	h.bin = servertest.BuildIDP(t, h.dir)
	t.Logf("built %s in %s", h.bin, time.Since(start).Round(time.Millisecond))

	h.setup()
	h.addr = servertest.FreeAddr(t)
	h.issuer = "http://" + h.addr
	t.Cleanup(func() {
		if h.srv != nil {
			h.killServer()
		}
	})

	h.startServer(0)
	h.discover()
	// Warm up before the first crash: a password sign-in is slow on
	// purpose, so each chain and each browser does its first one now and
	// the crash rounds exercise refreshes, SSO sign-ins and rotations.
	var chains []*crashChain
	for i := range 6 {
		ch := &crashChain{app: h.apps[i%len(h.apps)], dropper: i%2 == 0}
		tr, err := h.signIn(context.Background(), ch.app, nil)
		if err != nil {
			t.Fatalf("warm-up sign-in: %v", err)
		}
		ch.last = tr.RefreshToken
		chains = append(chains, ch)
	}
	for i := range 2 {
		jar, _ := cookiejar.New(nil)
		if _, err := h.signIn(context.Background(), h.apps[i%len(h.apps)], jar); err != nil {
			t.Fatalf("warm-up sign-in: %v", err)
		}
		h.browsers = append(h.browsers, jar)
	}
	t.Logf("set up and warmed up in %s", time.Since(start).Round(time.Millisecond))
	roundsStart := time.Now()
	crashes := 0
	for round := 1; round <= rounds; round++ {
		if time.Since(roundsStart) > 60*time.Second {
			t.Logf("stopping after %d crashes: the time budget is spent", crashes)
			break
		}
		h.load(round, chains)
		crashes++
		if h.report() {
			t.FailNow()
		}
		h.startServer(round)
		h.check(round, chains)
		if h.report() {
			t.FailNow()
		}
	}
	h.killServer()
	h.report()

	s := &h.stats
	h.mu.Lock()
	n := len(h.tokens)
	h.mu.Unlock()
	t.Logf("crash test: %d SIGKILLs under load, %s in all (%s of crash rounds)",
		crashes, time.Since(start).Round(time.Millisecond), time.Since(roundsStart).Round(time.Millisecond))
	t.Logf("  load: %d sign-ins, %d code exchanges, %d refreshes (%d duplicate-request races), %d forced key rotations "+
		"by the CLI (+%d CLI rotations killed mid-run), %d JWTs received",
		s.signIns.Load(), s.exchanges.Load(), s.refreshes.Load(), s.dupRaces.Load(), s.rotations.Load(), s.rotationsKilled.Load(), n)
	t.Logf("  lost responses: %d requests cut off by a crash, %d refresh responses dropped by the client on purpose and retried",
		s.lost.Load(), s.dropped.Load())
	t.Logf("  after restarts: %d newest chain tokens refreshed (%d of them already used by a request whose response was lost), "+
		"%d never-used refresh tokens from code exchanges redeemed, %d token verifications against the JWKS "+
		"(%d in the last check), %d keys published at the end, %d refresh_tokens rows checked",
		s.retried.Load(), s.swallowed.Load(), s.freshRedeemed.Load(), s.verified.Load(), s.maxTokensVerified.Load(),
		s.jwksKeys.Load(), s.refreshRows.Load())
}

// cli runs an admin command of the binary.
func (h *crashHarness) cli(ctx context.Context, stdin string, args ...string) (string, error) {
	args = append(args, "--database", h.dbPath)
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = servertest.EnvWithoutIDP()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("idp %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (h *crashHarness) setup() {
	t := h.t
	ctx := context.Background()
	if _, err := h.cli(ctx, crashPassword, "users", "create", "--email", crashEmail, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		app := &crashApp{id: "crash-" + strings.ToLower(alg), secret: crashRandom(36), alg: alg}
		if _, err := h.cli(ctx, app.secret, "clients", "create", "--id", app.id, "--trusted",
			"--redirect-uri", crashRedirect, "--secret-stdin", "--signing-alg", alg); err != nil {
			t.Fatal(err)
		}
		h.apps = append(h.apps, app)
	}
}

func (h *crashHarness) startServer(round int) {
	t := h.t
	logPath := filepath.Join(h.dir, fmt.Sprintf("serve-%02d.log", round))
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(h.bin, "serve", "--addr", h.addr, "--issuer", h.issuer, "--database", h.dbPath,
		"--jwks-max-age", "0s", "--key-rotation-interval", "2m", "--refresh-reuse-grace", crashGrace.String())
	cmd.Env = servertest.EnvWithoutIDP()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &crashServer{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(s.done) }()
	h.srv = s
	h.killed.Store(false)
	h.tr = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}

	deadline := time.Now().Add(30 * time.Second)
	c := &http.Client{Transport: h.tr, Timeout: 2 * time.Second}
	for {
		select {
		case <-s.done:
			t.Fatalf("idp serve (round %d) exited before it was ready:\n%s", round, crashLogTail(logPath))
		default:
		}
		resp, err := c.Get(h.issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("idp serve (round %d) not ready after 30 s:\n%s", round, crashLogTail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killServer SIGKILLs the server and waits until it is gone.
func (h *crashHarness) killServer() {
	h.killed.Store(true)
	_ = h.srv.cmd.Process.Kill()
	<-h.srv.done
	h.tr.CloseIdleConnections()
	log, _ := os.ReadFile(h.srv.log)
	if bytes.Contains(log, []byte("panic")) {
		h.fail("the server log has a panic:\n%s", crashLogTail(h.srv.log))
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "level=ERROR") {
			h.fail("the server logged an error: %s", line)
		}
	}
	h.srv = nil
}

func crashLogTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (h *crashHarness) discover() {
	resp, err := http.Get(h.issuer + "/.well-known/openid-configuration")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Auth  string `json:"authorization_endpoint"`
		Token string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.Auth == "" || doc.Token == "" {
		h.t.Fatalf("discovery: %+v, %v", doc, err)
	}
	h.authURL, h.tokenURL = doc.Auth, doc.Token
}

func (h *crashHarness) fail(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fails = append(h.fails, fmt.Sprintf(format, args...))
}

// report turns the collected failures into test errors; it reports
// whether there were any.
func (h *crashHarness) report() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, f := range h.fails {
		if i == 20 {
			h.t.Errorf("... and %d more failures", len(h.fails)-20)
			break
		}
		h.t.Error(f)
	}
	failed := len(h.fails) > 0
	h.fails = nil
	return failed
}

// crashLostError is a request whose response never arrived whole: the server
// died under it. The client does not know whether it took effect.
type crashLostError struct{ err error }

func (e crashLostError) Error() string { return "response lost: " + e.err.Error() }

// load runs sign-ins, refresh chains and forced rotations against the
// server for a random 0.3–1.5 s, then SIGKILLs it in the middle of all that.
func (h *crashHarness) load(round int, chains []*crashChain) {
	h.dropPhase.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, ch := range chains {
		wg.Add(1)
		go func() { defer wg.Done(); h.chainWorker(ctx, ch) }()
	}
	for i := range h.browsers {
		wg.Add(1)
		go func() { defer wg.Done(); h.signInWorker(ctx, i) }()
	}
	for _, alg := range []string{"RS256", "ES256"} {
		wg.Add(1)
		go func() { defer wg.Done(); h.rotator(ctx, alg) }()
	}

	d := 300*time.Millisecond + mrand.N(1200*time.Millisecond)
	select {
	case <-time.After(d - 100*time.Millisecond):
		h.dropPhase.Store(true)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-h.srv.done:
		}
	case <-h.srv.done:
	}
	select {
	case <-h.srv.done:
		h.fail("round %d: idp serve exited on its own under load:\n%s", round, crashLogTail(h.srv.log))
	default:
	}
	h.killServer()
	cancel()
	wg.Wait()
}

// unexpected records a failure of a request, unless it is a response the
// crash swallowed.
func (h *crashHarness) unexpected(what string, err error) (lost bool) {
	var le crashLostError
	if errors.As(err, &le) && h.killed.Load() {
		h.stats.lost.Add(1)
		return true
	}
	h.fail("%s: %v", what, err)
	return false
}

func (h *crashHarness) chainWorker(ctx context.Context, ch *crashChain) {
	for ctx.Err() == nil && !h.killed.Load() {
		switch {
		case ch.pending != "":
			// The client retries a refresh whose response it lost.
			tr, err := h.refresh(ctx, ch.app, ch.last)
			if err != nil {
				if !h.unexpected("retried refresh", err) {
					return
				}
				continue
			}
			if tr.RefreshToken != ch.pending {
				h.fail("a retried refresh inside the grace window got a new refresh token, not the one it lost")
			}
			ch.last, ch.pending = tr.RefreshToken, ""
			continue
		case ch.last != "" && (mrand.N(10) == 0 || ch.dropper && h.dropPhase.Load()):
			// The response of this refresh is lost on its way back.
			tr, err := h.refresh(ctx, ch.app, ch.last)
			if err != nil {
				if !h.unexpected("refresh", err) {
					return
				}
				continue
			}
			ch.pending = tr.RefreshToken
			h.stats.dropped.Add(1)
			if ch.dropper && h.dropPhase.Load() {
				<-ctx.Done() // the crash comes before the retry
				return
			}
			continue
		}
		if ch.last == "" {
			tr, err := h.signIn(ctx, ch.app, nil)
			if err != nil {
				if !h.unexpected("sign-in", err) {
					return
				}
				continue
			}
			ch.last = tr.RefreshToken
			continue
		}
		if mrand.N(6) == 0 {
			h.dupRace(ctx, ch)
			continue
		}
		tr, err := h.refresh(ctx, ch.app, ch.last)
		if err != nil {
			if !h.unexpected("refresh", err) {
				return
			}
			continue
		}
		ch.last = tr.RefreshToken
	}
}

// dupRace presents the chain's token twice at once, as a client retrying
// a slow request would: both must get the same single child.
func (h *crashHarness) dupRace(ctx context.Context, ch *crashChain) {
	h.stats.dupRaces.Add(1)
	var res [2]*crashTokens
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); res[i], errs[i] = h.refresh(ctx, ch.app, ch.last) }()
	}
	wg.Wait()
	var got []*crashTokens
	for i := range 2 {
		if errs[i] != nil {
			h.unexpected("duplicate refresh", errs[i])
			continue
		}
		got = append(got, res[i])
	}
	if len(got) == 2 && got[0].RefreshToken != got[1].RefreshToken {
		h.fail("two concurrent refreshes of one token minted two children")
	}
	if len(got) > 0 {
		ch.last = got[0].RefreshToken
	}
}

// signInWorker signs in through browser i again and again: mostly SSO on
// its session, sometimes (a new browser) with the password.
func (h *crashHarness) signInWorker(ctx context.Context, i int) {
	for ctx.Err() == nil && !h.killed.Load() {
		app := h.apps[mrand.N(len(h.apps))]
		if mrand.N(5) == 0 {
			h.browsers[i], _ = cookiejar.New(nil)
		}
		tr, err := h.signIn(ctx, app, h.browsers[i])
		if err != nil {
			if !h.unexpected("sign-in", err) {
				return
			}
			continue
		}
		h.mu.Lock()
		h.fresh = append(h.fresh, crashFresh{app, tr.RefreshToken})
		h.mu.Unlock()
	}
}

// rotator forces rotations of alg's key through the CLI, in processes of
// its own; the one running when the server dies is killed with it.
func (h *crashHarness) rotator(ctx context.Context, alg string) {
	for ctx.Err() == nil && !h.killed.Load() {
		_, err := h.cli(ctx, "", "keys", "rotate", "--force", "--alg", alg)
		switch {
		case err == nil:
			h.stats.rotations.Add(1)
		case ctx.Err() != nil || h.killed.Load():
			h.stats.rotationsKilled.Add(1)
			return
		default:
			h.fail("rotation: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50*time.Millisecond + mrand.N(200*time.Millisecond)):
		}
	}
}

type crashTokens struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

var (
	crashCSRFRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	crashReqRE  = regexp.MustCompile(`name="req" value="([^"]*)"`)
)

// signIn runs the authorization code flow the way a browser and a
// relying party would: /authorize, the sign-in form, the redirect with
// the code, then the code exchange. jar nil means a fresh browser.
func (h *crashHarness) signIn(ctx context.Context, app *crashApp, jar http.CookieJar) (*crashTokens, error) {
	if jar == nil {
		jar, _ = cookiejar.New(nil)
	}
	b := &http.Client{Jar: jar, Transport: h.tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := oauth2.GenerateVerifier()
	state := crashRandom(12)
	q := url.Values{
		"response_type": {"code"}, "client_id": {app.id}, "redirect_uri": {crashRedirect},
		"scope": {"openid email profile offline_access"}, "state": {state}, "nonce": {crashRandom(12)},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	next := h.authURL + "?" + q.Encode()
	var code string
	for hop := 0; code == ""; hop++ {
		if hop == 8 {
			return nil, errors.New("too many redirects")
		}
		status, loc, body, err := crashBrowse(ctx, b, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		if status == http.StatusOK && strings.Contains(body, `action="/login"`) {
			csrf, req := crashFormField(crashCSRFRE, body), crashFormField(crashReqRE, body)
			if csrf == "" || req == "" {
				return nil, fmt.Errorf("sign-in page without csrf_token or req: %.300s", body)
			}
			status, loc, body, err = crashBrowse(ctx, b, http.MethodPost, h.issuer+"/login", url.Values{
				"csrf_token": {csrf}, "req": {req}, "email": {crashEmail}, "password": {crashPassword},
			})
			if err != nil {
				return nil, err
			}
		}
		if status < 300 || status > 399 || loc == nil {
			return nil, fmt.Errorf("authorization stopped at %s with %d: %.300s", next, status, body)
		}
		if strings.HasPrefix(loc.String(), crashRedirect) {
			rq := loc.Query()
			if rq.Get("state") != state || rq.Get("iss") != h.issuer || rq.Get("code") == "" {
				return nil, fmt.Errorf("redirect %s lacks code, state or iss", loc.Redacted())
			}
			code = rq.Get("code")
			break
		}
		next = loc.String()
	}
	h.stats.signIns.Add(1)
	tr, err := h.postToken(ctx, app, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {crashRedirect}, "code_verifier": {verifier},
	})
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	h.stats.exchanges.Add(1)
	return tr, nil
}

func crashFormField(re *regexp.Regexp, body string) string {
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// crashBrowse sends one browser request without following redirects.
func crashBrowse(ctx context.Context, b *http.Client, method, u string, form url.Values) (int, *url.URL, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.Do(req)
	if err != nil {
		return 0, nil, "", crashLostError{err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, "", crashLostError{err}
	}
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		if loc, err = resp.Request.URL.Parse(l); err != nil {
			return 0, nil, "", err
		}
	}
	return resp.StatusCode, loc, string(raw), nil
}

func (h *crashHarness) refresh(ctx context.Context, app *crashApp, token string) (*crashTokens, error) {
	tr, err := h.postToken(ctx, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
	if err == nil {
		h.stats.refreshes.Add(1)
	}
	return tr, err
}

// postToken calls the token endpoint with client_secret_basic and records
// the JWTs of a successful response.
func (h *crashHarness) postToken(ctx context.Context, app *crashApp, form url.Values) (*crashTokens, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(app.id), url.QueryEscape(app.secret))
	c := &http.Client{Transport: h.tr, Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, crashLostError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, crashLostError{err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token endpoint (%s): %d %s", form.Get("grant_type"), resp.StatusCode, bytes.TrimSpace(body))
	}
	var tr crashTokens
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("token response: %w: %s", err, body)
	}
	if tr.AccessToken == "" || tr.IDToken == "" || tr.RefreshToken == "" {
		return nil, fmt.Errorf("token response lacks a token: %s", body)
	}
	for kind, raw := range map[string]string{"access": tr.AccessToken, "id": tr.IDToken} {
		tok, err := crashParseJWT(raw)
		if err != nil {
			return nil, fmt.Errorf("%s token: %w", kind, err)
		}
		if tok.alg != app.alg {
			h.fail("%s token of %s signed with %s, want %s", kind, app.id, tok.alg, app.alg)
		}
		tok.kind, tok.app = kind, app
		h.mu.Lock()
		h.tokens = append(h.tokens, tok)
		h.mu.Unlock()
	}
	return &tr, nil
}

// crashParseJWT reads the kid, alg and exp of a JWT without verifying it.
func crashParseJWT(raw string) (crashToken, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return crashToken{}, errors.New("not a compact JWS")
	}
	var hdr struct{ Kid, Alg string }
	var claims struct {
		Exp int64 `json:"exp"`
	}
	for i, v := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return crashToken{}, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return crashToken{}, err
		}
	}
	if hdr.Kid == "" || claims.Exp == 0 {
		return crashToken{}, fmt.Errorf("no kid or exp in %s", raw)
	}
	return crashToken{raw: raw, kid: hdr.Kid, alg: hdr.Alg, exp: time.Unix(claims.Exp, 0)}, nil
}

// check runs the checks after a restart.
func (h *crashHarness) check(round int, chains []*crashChain) {
	h.checkDB(round)
	h.checkKeys(round)
	h.checkRefresh(round, chains)
	// The retries above rotated the chains: the invariants must still hold.
	h.checkDB(round)
}

// checkDB: (1) SQLite's own integrity check; (3) no refresh token is
// half-rotated: a token is marked used if and only if its one child
// exists; and nothing was revoked, since no token is ever reused late.
func (h *crashHarness) checkDB(round int) {
	d, err := h.openDB()
	if err != nil {
		h.fail("round %d: open database: %v", round, err)
		return
	}
	defer d.Close()
	rows, err := d.Query("PRAGMA integrity_check")
	if err != nil {
		h.fail("round %d: integrity_check: %v", round, err)
		return
	}
	var res []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		res = append(res, s)
	}
	rows.Close()
	if len(res) != 1 || res[0] != "ok" {
		h.fail("round %d: PRAGMA integrity_check: %q", round, res)
	}
	queries := []struct{ what, q string }{
		{"foreign-key violations", "SELECT count(*) FROM pragma_foreign_key_check"},
		{"half-rotated refresh tokens (used_at set without a child, or a child of an unused token)",
			`SELECT count(*) FROM refresh_tokens p WHERE (p.used_at IS NOT NULL) <>
			 EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_hash = p.token_hash)`},
		{"refresh tokens with more than one child",
			`SELECT count(*) FROM (SELECT parent_hash FROM refresh_tokens WHERE parent_hash <> ''
			 GROUP BY parent_hash HAVING count(*) > 1)`},
		{"refresh tokens whose parent is missing or in another family",
			`SELECT count(*) FROM refresh_tokens c WHERE c.parent_hash <> '' AND NOT EXISTS
			 (SELECT 1 FROM refresh_tokens p WHERE p.token_hash = c.parent_hash AND p.family_id = c.family_id)`},
		{"revoked refresh families", "SELECT count(*) FROM refresh_families WHERE revoked_at IS NOT NULL"},
	}
	for _, q := range queries {
		var n int
		if err := d.QueryRow(q.q).Scan(&n); err != nil {
			h.fail("round %d: %s: %v", round, q.what, err)
		} else if n != 0 {
			h.fail("round %d: %d %s", round, n, q.what)
		}
	}
	var n int64
	if err := d.QueryRow("SELECT count(*) FROM refresh_tokens").Scan(&n); err == nil {
		h.stats.refreshRows.Store(n)
	}
}

func (h *crashHarness) openDB() (*sql.DB, error) {
	return sql.Open("sqlite3", "file:"+h.dbPath+"?_busy_timeout=10000")
}

// checkKeys: (2) every key that signed an unexpired token is published,
// and (4) every unexpired token verifies against the JWKS as served now.
func (h *crashHarness) checkKeys(round int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = oidc.ClientContext(ctx, &http.Client{Transport: h.tr, Timeout: 10 * time.Second})
	jwksURL := h.issuer + "/.well-known/jwks.json"
	resp, err := (&http.Client{Transport: h.tr, Timeout: 10 * time.Second}).Get(jwksURL)
	if err != nil {
		h.fail("round %d: JWKS: %v", round, err)
		return
	}
	var set struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil {
		h.fail("round %d: JWKS: %v", round, err)
		return
	}
	published := map[string]bool{}
	for _, k := range set.Keys {
		published[k.Kid] = true
	}
	h.stats.jwksKeys.Store(int64(len(published)))

	h.mu.Lock()
	toks := append([]crashToken(nil), h.tokens...)
	h.mu.Unlock()
	// One key set for the whole check: a key missing from it is missing
	// from the JWKS, not from a stale cache.
	keySet := oidc.NewRemoteKeySet(ctx, jwksURL)
	verifiers := map[*crashApp]*oidc.IDTokenVerifier{}
	for _, app := range h.apps {
		verifiers[app] = oidc.NewVerifier(h.issuer, keySet, &oidc.Config{ClientID: app.id, SupportedSigningAlgs: []string{app.alg}})
	}
	now := time.Now()
	missing := map[string]int{}
	var verified int64
	for _, tok := range toks {
		if !tok.exp.After(now.Add(time.Second)) {
			continue
		}
		if !published[tok.kid] {
			missing[tok.kid]++
			continue
		}
		if _, err := verifiers[tok.app].Verify(ctx, tok.raw); err != nil {
			h.fail("round %d: %s token (kid %s) of %s does not verify: %v", round, tok.kind, tok.kid, tok.app.id, err)
			continue
		}
		verified++
	}
	for kid, n := range missing {
		h.fail("round %d: key %s signed %d unexpired tokens but is not in the JWKS", round, kid, n)
	}
	h.stats.verified.Add(verified)
	h.stats.maxTokensVerified.Store(verified)
}

// checkRefresh: the newest refresh token of every chain is still usable
// (a refresh the crash swallowed is retried and, inside the grace window,
// answered with the child it minted), and so is every refresh token a
// sign-in delivered that was never used.
func (h *crashHarness) checkRefresh(round int, chains []*crashChain) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := h.openDB()
	if err != nil {
		h.fail("round %d: open database: %v", round, err)
		return
	}
	defer d.Close()
	for i, ch := range chains {
		if ch.last == "" {
			continue
		}
		parent := oauth.HashSecret(ch.last)
		var used bool
		if err := d.QueryRow("SELECT used_at IS NOT NULL FROM refresh_tokens WHERE token_hash = ?", parent).Scan(&used); err != nil {
			h.fail("round %d: chain %d: the last refresh token received before the crash is not stored: %v", round, i, err)
			ch.last = ""
			continue
		}
		tr, err := h.refresh(ctx, ch.app, ch.last)
		if err != nil {
			h.fail("round %d: chain %d: the last refresh token received before the crash is unusable: %v", round, i, err)
			ch.last = ""
			continue
		}
		h.stats.retried.Add(1)
		if used {
			h.stats.swallowed.Add(1)
		}
		if ch.pending != "" && tr.RefreshToken != ch.pending {
			h.fail("round %d: chain %d: the retry after the restart got a new refresh token, not the one whose response was lost", round, i)
		}
		ch.pending = ""
		// Whether the crash cut off a refresh of it or not, the token has
		// exactly one child now, and the retry was handed that one.
		var children []string
		rows, err := d.Query("SELECT token_hash FROM refresh_tokens WHERE parent_hash = ?", parent)
		if err == nil {
			for rows.Next() {
				var c string
				_ = rows.Scan(&c)
				children = append(children, c)
			}
			err = rows.Close()
		}
		switch {
		case err != nil:
			h.fail("round %d: chain %d: children: %v", round, i, err)
		case len(children) != 1 || children[0] != oauth.HashSecret(tr.RefreshToken):
			h.fail("round %d: chain %d: the retried refresh got a token that is not the one child of its parent (%d children)", round, i, len(children))
		}
		ch.last = tr.RefreshToken
	}
	h.mu.Lock()
	fresh := h.fresh
	h.fresh = nil
	h.mu.Unlock()
	for _, f := range fresh {
		if _, err := h.refresh(ctx, f.app, f.token); err != nil {
			h.fail("round %d: a refresh token delivered by a code exchange before the crash is unusable: %v", round, err)
			continue
		}
		h.stats.freshRedeemed.Add(1)
	}
}

func crashRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
