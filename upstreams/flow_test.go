package upstreams_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/clients"
	"idp/db"
	"idp/db/dbtest"
	"idp/keys"
	"idp/server/servertest"
	"idp/upstreams"
	"idp/users"
	"idp/verifier"
)

// These tests drive the Service directly against a real upstream idp
// (servertest), with a transport that can swap the ID token in the
// upstream's token response: what a compromised network path or a
// mixed-up upstream would deliver.

const (
	self     = "http://127.0.0.1:1" // this provider's issuer; its callback is never fetched
	email    = "linus@corp.example"
	password = "saffron glacier teapot 19"
)

// swapper replaces the id_token of token responses when swap is set.
type swapper struct {
	mu   sync.Mutex
	swap string
}

func (s *swapper) set(tok string) { s.mu.Lock(); s.swap = tok; s.mu.Unlock() }

func (s *swapper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	s.mu.Lock()
	swap := s.swap
	s.mu.Unlock()
	if err != nil || swap == "" || !strings.HasSuffix(r.URL.Path, "/token") {
		return resp, err
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	body["id_token"] = swap
	b, _ := json.Marshal(body)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type harness struct {
	up    *servertest.Env
	svc   *upstreams.Service
	users *users.Service
	d     *db.DB
	swap  *swapper
	clock *clock
}

func newHarness(t *testing.T, spec upstreams.Spec) *harness {
	t.Helper()
	up := servertest.New(t)
	_, secret := up.CreateClient(t, clients.Spec{ID: "idp-a", Trusted: true, RedirectURIs: []string{self + upstreams.CallbackPath("corp")}})
	d := dbtest.Open(t)
	c := &clock{t: time.Now().UTC()}
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, c.now)
	var mk keys.MasterKey
	sw := &swapper{}
	svc := upstreams.NewService(upstreams.NewStore(d.Gorm), us, upstreams.Config{Issuer: self, SealKey: mk.Derive("upstream-secret"),
		HTTPClient: &http.Client{Transport: sw, Timeout: 10 * time.Second}, Now: c.now})
	spec.ID, spec.Name, spec.Issuer, spec.ClientID, spec.Secret = "corp", "Corp", up.URL, "idp-a", secret
	spec.Scopes = []string{"email", "profile"}
	if _, err := svc.Create(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	up.CreateUser(t, email, password)
	return &harness{up: up, svc: svc, users: us, d: d, swap: sw, clock: c}
}

// signIn begins a sign-in, signs in at the upstream and returns the
// authorization response, with the nonce the upstream was sent.
func (h *harness) signIn(t *testing.T) (q url.Values, state, nonce string) {
	t.Helper()
	st, err := h.svc.Begin(context.Background(), "corp", "", "")
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	u, _ := url.Parse(st.URL)
	loc := h.up.Authorize(t, h.up.Browser(t), st.URL, email, password)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != self+upstreams.CallbackPath("corp") {
		t.Fatalf("upstream redirected to %s", loc)
	}
	return loc.Query(), st.State, u.Query().Get("nonce")
}

// idTokenFor gets a genuine ID token from env for client id (registered
// with secret), carrying nonce.
func idTokenFor(t *testing.T, env *servertest.Env, id, nonce string) string {
	t.Helper()
	redirect := self + "/elsewhere"
	_, secret := env.CreateClient(t, clients.Spec{ID: id, Trusted: true, RedirectURIs: []string{redirect}})
	q := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect}, "scope": {"openid email"},
		"nonce": {nonce}, "state": {"s"}}
	loc := env.Authorize(t, env.Browser(t), env.URL+"/authorize?"+q.Encode(), email, password)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirect}}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.IDToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return body.IDToken
}

func (h *harness) nothingMade(t *testing.T) {
	t.Helper()
	var n, l int64
	h.d.Gorm.Table("users").Count(&n)
	h.d.Gorm.Table("upstream_links").Count(&l)
	if n != 0 || l != 0 {
		t.Errorf("%d users, %d links after a refusal", n, l)
	}
}

func TestUpstreamServiceSignsInAndLinks(t *testing.T) {
	h := newHarness(t, upstreams.Spec{JIT: true})
	q, state, _ := h.signIn(t)
	res, err := h.svc.Finish(context.Background(), "corp", q, state)
	if err != nil || !res.Created || res.User == nil || res.User.Email != email {
		t.Fatalf("finish: %+v %v", res, err)
	}
	links, err := h.svc.Store().LinksOf(context.Background(), res.User.ID)
	if err != nil || len(links) != 1 || links[0].UpstreamID != "corp" || links[0].Subject == res.User.ID {
		t.Fatalf("links %+v %v", links, err)
	}
	// The same response again: the state is spent.
	if _, err := h.svc.Finish(context.Background(), "corp", q, state); !errors.Is(err, upstreams.ErrForged) {
		t.Fatalf("replay: %v, want ErrForged", err)
	}
}

func TestUpstreamServiceRefusesForeignIDTokens(t *testing.T) {
	cases := []struct {
		name string
		tok  func(t *testing.T, h *harness, nonce string) string
		why  error
	}{
		{"another audience", func(t *testing.T, h *harness, nonce string) string {
			return idTokenFor(t, h.up, "other-client", nonce)
		}, verifier.ErrAudience},
		{"another issuer", func(t *testing.T, h *harness, nonce string) string {
			third := servertest.New(t) // the same client id and user at a third provider
			third.CreateUser(t, email, password)
			return idTokenFor(t, third, "idp-a", nonce)
		}, verifier.ErrInvalidToken},
		{"garbage", func(*testing.T, *harness, string) string { return "not.a.jwt" }, verifier.ErrInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, upstreams.Spec{JIT: true})
			q, state, nonce := h.signIn(t)
			h.swap.set(tc.tok(t, h, nonce))
			_, err := h.svc.Finish(context.Background(), "corp", q, state)
			if !errors.Is(err, upstreams.ErrForged) || !errors.Is(err, tc.why) {
				t.Fatalf("finish: %v, want ErrForged and %v", err, tc.why)
			}
			h.nothingMade(t)
		})
	}
}

// TestUpstreamServiceFollowsKeyRotation: after the upstream revokes its
// signing key, its new key (never published before) is fetched on first
// sight instead of failing every sign-in until the cache expires.
func TestUpstreamServiceFollowsKeyRotation(t *testing.T) {
	h := newHarness(t, upstreams.Spec{JIT: true})
	q, state, _ := h.signIn(t)
	if _, err := h.svc.Finish(context.Background(), "corp", q, state); err != nil {
		t.Fatal(err)
	}
	ks, err := h.up.Keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Alg == "RS256" && k.State == keys.StateActive {
			if _, err := h.up.Keys.Revoke(context.Background(), k.KID); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.clock.advance(verifier.DefaultMinRefetchInterval + time.Second)
	q, state, _ = h.signIn(t)
	if _, err := h.svc.Finish(context.Background(), "corp", q, state); err != nil {
		t.Fatalf("after the upstream's key changed: %v", err)
	}
}

func TestUpstreamServiceUnreachable(t *testing.T) {
	h := newHarness(t, upstreams.Spec{JIT: true})
	h.up.HTTP.Close()
	if _, err := h.svc.Begin(context.Background(), "corp", "", ""); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("begin with the upstream down: %v, want ErrUnavailable", err)
	}
	if _, err := h.svc.Begin(context.Background(), "nope", "", ""); !errors.Is(err, upstreams.ErrUnknown) {
		t.Fatalf("unknown upstream: %v", err)
	}
}

// TestUpstreamOIDCClaimMapping: the mapping applies to the ID token of
// an oidc upstream too; here name is read from email and the link's
// subject stays the upstream's sub.
func TestUpstreamOIDCClaimMapping(t *testing.T) {
	h := newHarness(t, upstreams.Spec{JIT: true, Claims: upstreams.ClaimMapping{Name: "email"}})
	q, state, _ := h.signIn(t)
	res, err := h.svc.Finish(context.Background(), "corp", q, state)
	if err != nil || res.User.Name != email {
		t.Fatalf("finish: %+v %v; want the name read from email", res, err)
	}
	links, _ := h.svc.Store().LinksOf(context.Background(), res.User.ID)
	if len(links) != 1 || links[0].Subject == "" || links[0].Subject == email {
		t.Fatalf("links %+v", links)
	}
	// A mapping to a claim the ID token lacks fails the sign-in.
	missing := "sub=employee_id"
	if _, err := h.svc.Update(context.Background(), "corp", upstreams.Update{Mapping: &missing}); err != nil {
		t.Fatal(err)
	}
	q, state, _ = h.signIn(t)
	if _, err := h.svc.Finish(context.Background(), "corp", q, state); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("sub mapped to a missing claim: %v, want ErrUnavailable", err)
	}
}
