package upstreams_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
	"idp/keys"
	"idp/oauth"
	"idp/upstreams"
	"idp/users"
)

func TestParseClaimMapping(t *testing.T) {
	good := []struct {
		in   []string
		want map[string]string
	}{
		{nil, map[string]string{}},
		{[]string{"sub=id,email=mail", "name=display_name"}, map[string]string{"sub": "id", "email": "mail", "name": "display_name"}},
		{[]string{" sub = id , , roles=groups "}, map[string]string{"sub": "id", "roles": "groups"}},
		{[]string{"email_verified=verified_email"}, map[string]string{"email_verified": "verified_email"}},
		{[]string{"name="}, map[string]string{"name": ""}}, // back to the default
		{[]string{"sub=urn:zitadel:iam:user:id"}, map[string]string{"sub": "urn:zitadel:iam:user:id"}},
	}
	for _, c := range good {
		got, err := upstreams.ParseClaimMapping(c.in...)
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, got, err, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", c.in, k, got[k], v)
			}
		}
	}
	bad := []struct {
		in   []string
		want string
	}{
		{[]string{"subject=id"}, `field "subject" is not one of sub, email, email_verified, name, roles`},
		{[]string{"sub"}, "is not FIELD=CLAIM"},
		{[]string{"sub=id", "sub=login"}, `"sub" is given twice`},
		{[]string{"name=display name"}, "is not a claim name"},
		{[]string{"name=a=b"}, "is not a claim name"},
		{[]string{"=id"}, `field "" is not one of`},
		{[]string{"Sub=id"}, `field "Sub"`},
		{[]string{"password=pw,sub=id"}, `field "password"`},
	}
	for _, c := range bad {
		got, err := upstreams.ParseClaimMapping(c.in...)
		if !errors.Is(err, upstreams.ErrInvalid) || !strings.Contains(err.Error(), c.want) || got != nil {
			t.Errorf("%q: %v %v, want ErrInvalid with %q", c.in, got, err, c.want)
		}
	}
	var m upstreams.ClaimMapping
	f, _ := upstreams.ParseClaimMapping("sub=id,email=mail,roles=groups,email_verified=ok,name=nick")
	m.Map(f)
	if m != (upstreams.ClaimMapping{Sub: "id", Email: "mail", EmailVerified: "ok", Name: "nick", RolesClaim: "groups"}) ||
		m.String() != "email=mail,email_verified=ok,name=nick,roles=groups,sub=id" {
		t.Errorf("mapped %+v, %q", m, m.String())
	}
}

func TestUpstreamKinds(t *testing.T) {
	svc, _ := newService(t, nil)
	ctx := context.Background()
	base := func(kind string) upstreams.Spec {
		return upstreams.Spec{ID: "x", Name: "X", Kind: kind, ClientID: "c"}
	}
	oauth2 := func(auth, token, userinfo string) upstreams.Spec {
		s := base(upstreams.KindOAuth2)
		s.AuthURL, s.TokenURL, s.UserinfoURL = auth, token, userinfo
		return s
	}
	const ok = "https://p.example/x"
	bad := []struct {
		name string
		spec upstreams.Spec
		want string
	}{
		{"unknown kind", base("saml"), `kind "saml" is not one of oidc, oauth2, github`},
		{"oidc without issuer", base(upstreams.KindOIDC), "issuer"},
		{"oidc with an auth url", func() upstreams.Spec {
			s := base(upstreams.KindOIDC)
			s.Issuer, s.AuthURL = ok, ok
			return s
		}(), `auth url is not used by kind "oidc"`},
		{"oauth2 without urls", base(upstreams.KindOAuth2), `kind "oauth2" needs auth url`},
		{"oauth2 without userinfo", oauth2(ok, ok, ""), "needs userinfo url"},
		{"oauth2 over plain http", oauth2(ok, "http://p.example/token", ok), "must be https"},
		{"oauth2 relative", oauth2("/authorize", ok, ok), "absolute URL"},
		{"oauth2 fragment", oauth2(ok, ok, ok+"#frag"), "without fragment"},
		{"oauth2 with an issuer", func() upstreams.Spec {
			s := oauth2(ok, ok, ok)
			s.Issuer = ok
			return s
		}(), `issuer is not used by kind "oauth2"`},
		{"github with a token url", func() upstreams.Spec {
			s := base(upstreams.KindGitHub)
			s.TokenURL = ok
			return s
		}(), `token url is not used by kind "github"`},
		{"github url with a path", func() upstreams.Spec {
			s := base(upstreams.KindGitHub)
			s.GitHubURL = "https://ghe.example/api/v3"
			return s
		}(), "without a path"},
		{"github url over http", func() upstreams.Spec {
			s := base(upstreams.KindGitHub)
			s.GitHubURL = "http://ghe.example"
			return s
		}(), "must be https"},
	}
	for _, c := range bad {
		if _, err := svc.Create(ctx, c.spec); !errors.Is(err, upstreams.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid with %q", c.name, err, c.want)
		}
	}
	good := []upstreams.Spec{oauth2(ok+"?prompt=consent", ok, "http://127.0.0.1:8080/me"), base(upstreams.KindGitHub),
		func() upstreams.Spec {
			s := base(upstreams.KindGitHub)
			s.GitHubURL = "https://ghe.example/"
			return s
		}()}
	for i, s := range good {
		s.ID = "ok" + string(rune('a'+i))
		if _, err := svc.Create(ctx, s); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

// TestUpstreamOAuth2StoreRoundTrip: the endpoints and the mapping survive
// both dialects; github gets its required scope, oauth2 no openid.
func TestUpstreamOAuth2StoreRoundTrip(t *testing.T) {
	svc, _ := newService(t, nil)
	ctx := context.Background()
	spec := upstreams.Spec{ID: "api", Name: "API", Kind: upstreams.KindOAuth2, ClientID: "c", Scopes: []string{"profile"},
		AuthURL: "https://p.example/a", TokenURL: "https://p.example/t", UserinfoURL: "https://p.example/u",
		Claims: upstreams.ClaimMapping{Sub: "id", Email: "mail", EmailVerified: "mail_ok", Name: "display_name", RolesClaim: "teams"}}
	if _, err := svc.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Store().ByID(ctx, "api")
	if err != nil || got.Kind != upstreams.KindOAuth2 || got.AuthURL != spec.AuthURL || got.TokenURL != spec.TokenURL ||
		got.UserinfoURL != spec.UserinfoURL || got.Claims != spec.Claims || strings.Join(got.Scopes, " ") != "profile" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	fields, userinfo := "name=,email=email", "https://p.example/me"
	if _, err := svc.Update(ctx, "api", upstreams.Update{Mapping: &fields, UserinfoURL: &userinfo}); err != nil {
		t.Fatal(err)
	}
	got, _ = svc.Store().ByID(ctx, "api")
	if got.Claims.Name != "" || got.Claims.Email != "email" || got.Claims.Sub != "id" || got.UserinfoURL != userinfo {
		t.Fatalf("after update: %+v", got)
	}
	roles, other, unknown := "roles=groups", "teams", "sub=id,subject=id"
	if _, err := svc.Update(ctx, "api", upstreams.Update{Mapping: &roles, RolesClaim: &other}); !errors.Is(err, upstreams.ErrInvalid) {
		t.Fatalf("contradicting roles: %v", err)
	}
	if _, err := svc.Update(ctx, "api", upstreams.Update{Mapping: &unknown}); !errors.Is(err, upstreams.ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
	empty := ""
	if _, err := svc.Update(ctx, "api", upstreams.Update{UserinfoURL: &empty}); !errors.Is(err, upstreams.ErrInvalid) {
		t.Fatalf("oauth2 without userinfo url: %v", err)
	}

	if _, err := svc.Create(ctx, upstreams.Spec{ID: "gh", Name: "GitHub", Kind: upstreams.KindGitHub, ClientID: "c",
		Scopes: []string{"read:org"}, GitHubURL: "https://ghe.example/"}); err != nil {
		t.Fatal(err)
	}
	gh, _ := svc.Store().ByID(ctx, "gh")
	if strings.Join(gh.Scopes, " ") != "read:org user:email" || gh.GitHubURL != "https://ghe.example" || gh.Issuer != "" {
		t.Fatalf("github: %+v", gh)
	}
	st, err := svc.Begin(ctx, "gh", "", "")
	if err != nil || !strings.HasPrefix(st.URL, "https://ghe.example/login/oauth/authorize?") {
		t.Fatalf("begin at GHES: %v %v", st, err)
	}
}

func TestClaimNumbersAndVerified(t *testing.T) {
	o := newOAuth2Provider(t)
	svc, _ := newService(t, nil)
	o.create(t, svc, upstreams.ClaimMapping{Sub: "id", EmailVerified: "verified"})
	cases := []struct {
		name     string
		userinfo string
		sub      string
		verified bool
	}{
		{"a 64-bit id stays exact", `{"id": 9007199254740993, "email": "a@corp.example", "verified": true}`, "9007199254740993", true},
		{"a string id", `{"id": "u-1", "email": "b@corp.example", "verified": "true"}`, "u-1", true},
		{"verified as another string", `{"id": 7, "email": "c@corp.example", "verified": "yes"}`, "7", false},
	}
	for _, c := range cases {
		o.set(func(o *oauth2Provider) { o.userinfo = c.userinfo })
		res, err := o.signIn(t, svc)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		links, _ := svc.Store().LinksOf(context.Background(), res.User.ID)
		if len(links) != 1 || links[0].Subject != c.sub || res.User.EmailVerified != c.verified {
			t.Errorf("%s: links %+v, verified %v", c.name, links, res.User.EmailVerified)
		}
	}
}

// TestOAuth2UpstreamFailures: a plain OAuth 2.0 upstream whose token or
// userinfo endpoint misbehaves fails with ErrUnavailable, and nothing is
// made.
func TestOAuth2UpstreamFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(o *oauth2Provider)
		why   string
	}{
		{"userinfo 500", func(o *oauth2Provider) { o.userinfoStatus = http.StatusInternalServerError }, "answered 500"},
		{"userinfo 401", func(o *oauth2Provider) { o.userinfoStatus = http.StatusUnauthorized }, "answered 401"},
		{"userinfo not JSON", func(o *oauth2Provider) { o.userinfo = "<html>oops</html>" }, "not the JSON expected"},
		{"userinfo a list", func(o *oauth2Provider) { o.userinfo = `[{"sub":"x"}]` }, "not the JSON expected"},
		{"userinfo null", func(o *oauth2Provider) { o.userinfo = `null` }, "not a JSON object"},
		{"no subject", func(o *oauth2Provider) { o.userinfo = `{"email":"a@corp.example"}` }, `no usable "sub"`},
		{"subject an object", func(o *oauth2Provider) { o.userinfo = `{"sub":{"id":1}}` }, `no usable "sub"`},
		{"subject a fraction", func(o *oauth2Provider) { o.userinfo = `{"sub":1.5}` }, `no usable "sub"`},
		// net/http names the timeout in one of two ways, depending on
		// whether its timer or the request's own deadline fires first.
		{"userinfo slow", func(o *oauth2Provider) { o.slow = true }, "Client.Timeout|context deadline exceeded"},
		{"token type mac", func(o *oauth2Provider) { o.tokenType = "mac" }, `token_type "mac"`},
		{"no access token", func(o *oauth2Provider) { o.noAccessToken = true }, "no access_token"},
		{"token error", func(o *oauth2Provider) { o.tokenError = "invalid_grant" }, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOAuth2Provider(t)
			svc, d := newService(t, &http.Client{Timeout: 500 * time.Millisecond})
			o.create(t, svc, upstreams.ClaimMapping{})
			o.set(c.setup)
			_, err := o.signIn(t, svc)
			if !errors.Is(err, upstreams.ErrUnavailable) || !slices.ContainsFunc(strings.Split(c.why, "|"),
				func(w string) bool { return strings.Contains(err.Error(), w) }) {
				t.Fatalf("%v, want ErrUnavailable with %q", err, c.why)
			}
			if strings.Contains(err.Error(), o.lastToken()) {
				t.Errorf("the error %q holds the access token", err)
			}
			var n int64
			d.Gorm.Table("users").Count(&n)
			if n != 0 {
				t.Errorf("%d users after a failure", n)
			}
		})
	}
}

// oauth2Provider is a minimal plain OAuth 2.0 provider: authorize
// (recording the PKCE challenge), token (checking it, client_secret_basic)
// and a userinfo endpoint whose answer each test sets.
type oauth2Provider struct {
	srv *httptest.Server

	mu             sync.Mutex
	challenges     map[string]string // code → challenge
	userinfo       string
	userinfoStatus int
	slow           bool
	tokenType      string
	noAccessToken  bool
	tokenError     string
	token          string
}

func newOAuth2Provider(t *testing.T) *oauth2Provider {
	t.Helper()
	o := &oauth2Provider{challenges: map[string]string{}, userinfo: `{"sub":"s-1","email":"a@corp.example","name":"A"}`,
		userinfoStatus: http.StatusOK, tokenType: "Bearer"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Has("nonce") || q.Get("response_type") != "code" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		code := oauth.NewSecret(8)
		o.set(func(o *oauth2Provider) { o.challenges[code] = q.Get("code_challenge") })
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		o.mu.Lock()
		defer o.mu.Unlock()
		id, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		challenge := o.challenges[r.PostForm.Get("code")]
		if o.tokenError != "" || id != "idp" || secret != "s3cret" || oauth.S256Challenge(r.PostForm.Get("code_verifier")) != challenge {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": o.tokenError + "_or_bad_client_or_pkce"})
			return
		}
		o.token = oauth.NewSecret(16)
		body := map[string]string{"access_token": o.token, "token_type": o.tokenType}
		if o.noAccessToken {
			delete(body, "access_token")
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		slow, status, body, tok := o.slow, o.userinfoStatus, o.userinfo, o.token
		o.mu.Unlock()
		if slow {
			select { // as slow as the client lets it be
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+tok {
			status = http.StatusUnauthorized
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	o.srv = httptest.NewServer(mux)
	t.Cleanup(o.srv.Close)
	return o
}

func (o *oauth2Provider) set(fn func(o *oauth2Provider)) { o.mu.Lock(); defer o.mu.Unlock(); fn(o) }

func (o *oauth2Provider) lastToken() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == "" {
		return "\x00never"
	}
	return o.token
}

func (o *oauth2Provider) create(t *testing.T, svc *upstreams.Service, m upstreams.ClaimMapping) {
	t.Helper()
	if _, err := svc.Create(context.Background(), upstreams.Spec{ID: "api", Name: "API", Kind: upstreams.KindOAuth2,
		ClientID: "idp", Secret: "s3cret", AuthURL: o.srv.URL + "/authorize", TokenURL: o.srv.URL + "/token",
		UserinfoURL: o.srv.URL + "/userinfo", JIT: true, Claims: m}); err != nil {
		t.Fatal(err)
	}
}

// signIn begins, follows the provider's authorize redirect and finishes.
func (o *oauth2Provider) signIn(t *testing.T, svc *upstreams.Service) (*upstreams.Result, error) {
	t.Helper()
	ctx := context.Background()
	st, err := svc.Begin(ctx, "api", "", "")
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(st.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return svc.Finish(ctx, "api", loc.Query(), st.State)
}

// newService is a Service over a fresh database, with client hc (nil:
// the default).
func newService(t *testing.T, hc *http.Client) (*upstreams.Service, *db.DB) {
	t.Helper()
	d := dbtest.Open(t)
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, nil)
	var mk keys.MasterKey
	return upstreams.NewService(upstreams.NewStore(d.Gorm), us, upstreams.Config{Issuer: self,
		SealKey: mk.Derive("upstream-secret"), HTTPClient: hc}), d
}
