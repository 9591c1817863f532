package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"idp/clients"
	"idp/oauth"
	"idp/server"
	"idp/server/servertest"
	"idp/upstreams"
)

// GitHub itself cannot be reached from the test machines, so these tests
// sign in through fakeGitHub: an in-test server that speaks the OAuth
// endpoints and REST API responses GitHub documents (docs.github.com,
// "Authorizing OAuth apps", and the REST "Users", "Emails",
// "Organizations" and "Teams" pages), with GitHub Enterprise Server's
// layout (/login/oauth/… on the host, the API under /api/v3). It checks
// what GitHub checks: the client's credentials, the redirect URI, the
// single use of a code, and the PKCE verifier against the S256 challenge.

const (
	ghClientID = "Iv1.8a61f9b3a7aba766"
	ghSecret   = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"
)

// ghAccount is a GitHub user as the fake serves it.
type ghAccount struct {
	ID           int64
	Login, Name  string
	ProfileEmail string // /user's "email": public, not vouched for
	Emails       []ghEmail
	Orgs         []string
	Teams        [][2]string // {org, team slug}
}

type ghEmail struct {
	Email      string  `json:"email"`
	Primary    bool    `json:"primary"`
	Verified   bool    `json:"verified"`
	Visibility *string `json:"visibility"`
}

type ghGrant struct {
	challenge, redirect string
	scopes              []string
}

type fakeGitHub struct {
	srv      *httptest.Server
	redirect string // the registered callback URL

	mu        sync.Mutex
	account   *ghAccount
	codes     map[string]ghGrant
	tokens    map[string][]string // access token → granted scopes
	userFails int                 // /user answers 500 while set
	withhold  string              // a scope the person does not grant
	emailsRaw string              // /user/emails answers this body when set
	authSeen  url.Values          // the last authorization request
	// userinfo is the body of /custom/userinfo, a plain OAuth 2.0
	// provider's userinfo endpoint sharing the fake's authorization server.
	userinfo map[string]any
}

func newFakeGitHub(t *testing.T, redirect string, acct *ghAccount) *fakeGitHub {
	t.Helper()
	gh := &fakeGitHub{redirect: redirect, account: acct, codes: map[string]ghGrant{}, tokens: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", gh.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", gh.accessToken)
	mux.HandleFunc("GET /api/v3/user", gh.api(func(w http.ResponseWriter, r *http.Request, a *ghAccount, _ []string) {
		if gh.userFails > 0 {
			http.Error(w, `{"message":"Server Error"}`, http.StatusInternalServerError)
			return
		}
		writeJSON(w, map[string]any{"login": a.Login, "id": a.ID, "node_id": "MDQ6VXNlcjE=", "type": "User",
			"name": nullable(a.Name), "email": nullable(a.ProfileEmail), "site_admin": false})
	}))
	mux.HandleFunc("GET /api/v3/user/emails", gh.api(func(w http.ResponseWriter, _ *http.Request, a *ghAccount, scopes []string) {
		if !slices.Contains(scopes, "user:email") {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound) // what GitHub answers without the scope
			return
		}
		if gh.emailsRaw != "" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(gh.emailsRaw))
			return
		}
		writeJSON(w, append([]ghEmail{}, a.Emails...))
	}))
	mux.HandleFunc("GET /api/v3/user/orgs", gh.api(func(w http.ResponseWriter, r *http.Request, a *ghAccount, scopes []string) {
		if !slices.Contains(scopes, "read:org") {
			http.Error(w, `{"message":"Forbidden"}`, http.StatusForbidden)
			return
		}
		// One org per page, so idp must follow the Link header (RFC 8288).
		page := 1
		_, _ = fmt.Sscan(r.URL.Query().Get("page"), &page)
		out := []map[string]any{}
		if page >= 1 && page <= len(a.Orgs) {
			out = append(out, map[string]any{"login": a.Orgs[page-1], "id": 1000 + page, "url": "https://api.github.example/orgs/x"})
		}
		if page < len(a.Orgs) {
			w.Header().Set("Link", fmt.Sprintf(`<%s/api/v3/user/orgs?per_page=100&page=%d>; rel="next"`, gh.srv.URL, page+1))
		}
		writeJSON(w, out)
	}))
	mux.HandleFunc("GET /api/v3/user/teams", gh.api(func(w http.ResponseWriter, _ *http.Request, a *ghAccount, scopes []string) {
		if !slices.Contains(scopes, "read:org") {
			http.Error(w, `{"message":"Forbidden"}`, http.StatusForbidden)
			return
		}
		out := []map[string]any{}
		for i, tm := range a.Teams {
			out = append(out, map[string]any{"id": 2000 + i, "name": tm[1], "slug": tm[1], "privacy": "closed",
				"organization": map[string]any{"login": tm[0], "id": 1}})
		}
		writeJSON(w, out)
	}))
	mux.HandleFunc("GET /custom/userinfo", gh.api(func(w http.ResponseWriter, _ *http.Request, _ *ghAccount, _ []string) {
		writeJSON(w, gh.userinfo)
	}))
	gh.srv = httptest.NewServer(mux)
	t.Cleanup(gh.srv.Close)
	return gh
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// authorize is GitHub's authorization page, the person having said yes:
// it redirects to the registered callback with a code and the state.
func (gh *fakeGitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	gh.mu.Lock()
	defer gh.mu.Unlock()
	gh.authSeen = q
	if q.Get("client_id") != ghClientID || q.Get("redirect_uri") != gh.redirect || q.Get("state") == "" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := oauth.NewSecret(10)
	scopes := slices.DeleteFunc(strings.Fields(q.Get("scope")), func(s string) bool { return s == gh.withhold })
	gh.codes[code] = ghGrant{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), scopes: scopes}
	http.Redirect(w, r, gh.redirect+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

// accessToken is GitHub's token endpoint: the client's credentials in the
// form (or Basic), the code once, its redirect_uri and PKCE verifier.
// Like GitHub it reports errors with status 200.
func (gh *fakeGitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	fail := func(code, desc string) { writeJSON(w, map[string]string{"error": code, "error_description": desc}) }
	grant, ok := gh.codes[r.PostForm.Get("code")]
	delete(gh.codes, r.PostForm.Get("code"))
	switch {
	case r.Header.Get("Accept") != "application/json":
		http.Error(w, "access_token=form-encoded-without-accept", http.StatusOK) // GitHub's default answer
	case id != ghClientID || secret != ghSecret:
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
	case !ok:
		fail("bad_verification_code", "The code passed is incorrect or expired.")
	case r.PostForm.Get("redirect_uri") != grant.redirect:
		fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
	case oauth.S256Challenge(r.PostForm.Get("code_verifier")) != grant.challenge:
		fail("invalid_grant", "The code_verifier does not match the code_challenge.")
	default:
		tok := "gho_" + oauth.NewSecret(18)
		gh.tokens[tok] = grant.scopes
		writeJSON(w, map[string]string{"access_token": tok, "token_type": "bearer", "scope": strings.Join(grant.scopes, ",")})
	}
}

// api wraps a REST endpoint: the access token as "Bearer" or "token".
func (gh *fakeGitHub) api(h func(http.ResponseWriter, *http.Request, *ghAccount, []string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			tok, _ = strings.CutPrefix(auth, "token ")
		}
		gh.mu.Lock()
		defer gh.mu.Unlock()
		scopes, known := gh.tokens[tok]
		if !known {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Requires authentication"}`))
			return
		}
		h(w, r, gh.account, scopes)
	}
}

func (gh *fakeGitHub) set(fn func(gh *fakeGitHub)) {
	gh.mu.Lock()
	defer gh.mu.Unlock()
	fn(gh)
}

// newGitHubFed starts idp (a) with a GitHub upstream "corp" at the fake,
// spec's rules, and a trusted relying party.
func newGitHubFed(t *testing.T, spec upstreams.Spec, acct *ghAccount) (*fed, *fakeGitHub) {
	t.Helper()
	logs := &lockedBuffer{}
	a := servertest.New(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	gh := newFakeGitHub(t, a.URL+upstreams.CallbackPath("corp"), acct)
	spec.ID, spec.Name, spec.ClientID, spec.Secret = "corp", "GitHub", ghClientID, ghSecret
	spec.Kind, spec.GitHubURL = upstreams.KindGitHub, gh.srv.URL
	if _, err := a.App.Upstreams.Create(context.Background(), spec); err != nil {
		t.Fatalf("create upstream: %v", err)
	}
	return &fed{a: a, rp: newRP(t, a, clients.Spec{ID: "rp", Trusted: true}), br: a.Browser(t), log: logs}, gh
}

// toGitHub drives the browser from the RP through "Continue with GitHub"
// and the fake's authorization page, returning the callback URL the fake
// redirects to (not yet followed).
func toGitHub(t *testing.T, f *fed, gh *fakeGitHub) *url.URL {
	t.Helper()
	resp, _ := f.a.Get(t, f.br, f.rp.conf.AuthCodeURL("st4te", oidc.Nonce("rp-nonce")))
	_, page := f.a.Get(t, f.br, servertest.Location(t, resp).String())
	m := upstreamButtonRE.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no upstream button on %s: %.600s", page.URL, page.Body)
	}
	resp, page = f.a.Get(t, f.br, html.UnescapeString(m[1]))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d %.300s", resp.StatusCode, page.Body)
	}
	up := servertest.Location(t, resp)
	if !strings.HasPrefix(up.String(), gh.srv.URL+"/login/oauth/authorize?") {
		t.Fatalf("sent to %s, not the fake's authorization page", up)
	}
	resp, page = f.a.Get(t, f.br, up.String())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("fake authorize: %d %s", resp.StatusCode, page.Body)
	}
	return servertest.Location(t, resp)
}

func ghUser() *ghAccount {
	return &ghAccount{ID: 5831207, Login: "octocat", Name: "Mona Lisa Octocat", ProfileEmail: "public@elsewhere.example",
		Emails: []ghEmail{
			{Email: "old@corp.example", Verified: true},
			{Email: "mona@corp.example", Primary: true, Verified: true},
		}}
}

func TestUpstreamGitHubJIT(t *testing.T) {
	f, gh := newGitHubFed(t, upstreams.Spec{JIT: true}, ghUser())
	claims := f.finish(t, toGitHub(t, f, gh))
	if q := gh.authSeen; q.Get("scope") != "read:user user:email" || q.Has("nonce") {
		t.Errorf("authorization request %v: want the default scopes and no nonce", q)
	}
	ctx := context.Background()
	user, err := f.a.Users.Store().ByEmail(ctx, "mona@corp.example")
	if err != nil {
		t.Fatalf("the primary verified email made no user: %v", err)
	}
	if claims["sub"] != user.ID || !user.EmailVerified || user.Name != "Mona Lisa Octocat" || !slices.Contains(amrOf(claims), "fed") {
		t.Errorf("claims %v, user %+v", claims, user)
	}
	links, err := f.a.App.Upstreams.Store().LinksOf(ctx, user.ID)
	if err != nil || len(links) != 1 || links[0].Subject != "5831207" {
		t.Fatalf("links %+v %v: want GitHub's numeric id as the subject", links, err)
	}
	// Renamed at GitHub, with a new primary address: still the same link.
	gh.set(func(gh *fakeGitHub) {
		gh.account.Login = "mona"
		gh.account.Emails = []ghEmail{{Email: "mona@new.example", Primary: true, Verified: true}}
	})
	f.br = f.a.Browser(t)
	claims = f.finish(t, toGitHub(t, f, gh))
	if n, l := f.counts(t); claims["sub"] != user.ID || n != 1 || l != 1 {
		t.Errorf("after the rename: sub %v, %d users, %d links", claims["sub"], n, l)
	}
}

func TestUpstreamGitHubLinkByEmail(t *testing.T) {
	t.Run("primary and verified links", func(t *testing.T) {
		f, gh := newGitHubFed(t, upstreams.Spec{LinkByEmail: true}, ghUser())
		local := f.a.CreateUser(t, "mona@corp.example", fedPassword)
		if claims := f.finish(t, toGitHub(t, f, gh)); claims["sub"] != local.ID {
			t.Fatalf("sub %v, want the existing user %s", claims["sub"], local.ID)
		}
	})
	t.Run("primary but unverified is refused", func(t *testing.T) {
		acct := ghUser()
		acct.Emails = []ghEmail{{Email: "mona@corp.example", Primary: true}, {Email: "other@corp.example", Verified: true}}
		f, gh := newGitHubFed(t, upstreams.Spec{LinkByEmail: true, JIT: true}, acct)
		f.a.CreateUser(t, "mona@corp.example", fedPassword)
		f.refused(t, toGitHub(t, f, gh), http.StatusConflict, "already exists", "which GitHub has not verified")
		if n, l := f.counts(t); n != 1 || l != 0 {
			t.Errorf("%d users, %d links after a refusal", n, l)
		}
	})
	t.Run("a verified address that is not primary does not link", func(t *testing.T) {
		f, gh := newGitHubFed(t, upstreams.Spec{LinkByEmail: true}, ghUser())
		f.a.CreateUser(t, "old@corp.example", fedPassword) // verified at GitHub, but not primary
		f.refused(t, toGitHub(t, f, gh), http.StatusForbidden, "You have no account here", "--jit is off")
		if n, l := f.counts(t); n != 1 || l != 0 {
			t.Errorf("%d users, %d links after a refusal", n, l)
		}
	})
	t.Run("the profile email is not taken", func(t *testing.T) {
		f, gh := newGitHubFed(t, upstreams.Spec{LinkByEmail: true}, ghUser())
		f.a.CreateUser(t, "public@elsewhere.example", fedPassword)
		f.refused(t, toGitHub(t, f, gh), http.StatusForbidden, "You have no account here", "--jit is off")
		if _, l := f.counts(t); l != 0 {
			t.Errorf("%d links", l)
		}
	})
}

func TestUpstreamGitHubNoVerifiedEmail(t *testing.T) {
	acct := ghUser()
	acct.Emails = []ghEmail{{Email: "mona@corp.example", Primary: true}}
	f, gh := newGitHubFed(t, upstreams.Spec{JIT: true}, acct)
	f.refused(t, toGitHub(t, f, gh), http.StatusForbidden, "You have no account here", "no verified primary email")
	if n, l := f.counts(t); n != 0 || l != 0 {
		t.Errorf("%d users, %d links after a refusal", n, l)
	}
}

// TestUpstreamGitHubOrgsAndTeams: with read:org, the orgs and teams are a
// groups claim: --required-group refuses outsiders, --roles-claim groups
// with a prefix maps one org's teams to roles.
func TestUpstreamGitHubOrgsAndTeams(t *testing.T) {
	acct := ghUser()
	acct.Orgs = []string{"acme", "octo-friends"}
	acct.Teams = [][2]string{{"acme", "admins"}, {"acme", "dev"}, {"octo-friends", "fans"}}
	scopes := []string{"read:user", "read:org"}
	t.Run("member", func(t *testing.T) {
		f, gh := newGitHubFed(t, upstreams.Spec{JIT: true, Scopes: scopes,
			Claims: upstreams.ClaimMapping{RolesClaim: "groups", RolesPrefix: "acme/", RequiredGroup: "octo-friends"}}, acct)
		f.finish(t, toGitHub(t, f, gh))
		user, err := f.a.Users.Store().ByEmail(context.Background(), "mona@corp.example")
		if err != nil || !slices.Equal(sorted(user.Roles), []string{"admins", "dev"}) {
			t.Fatalf("roles %v, %v; want [admins dev]", user, err)
		}
	})
	t.Run("outsider", func(t *testing.T) {
		f, gh := newGitHubFed(t, upstreams.Spec{JIT: true, Scopes: scopes,
			Claims: upstreams.ClaimMapping{RolesClaim: "groups", RequiredGroup: "acme/security"}}, acct)
		f.refused(t, toGitHub(t, f, gh), http.StatusForbidden, "cannot sign in here", "acme/security")
		if n, l := f.counts(t); n != 0 || l != 0 {
			t.Errorf("%d users, %d links after a refusal", n, l)
		}
	})
	t.Run("read:org asked but not granted", func(t *testing.T) {
		f, gh := newGitHubFed(t, upstreams.Spec{JIT: true, Scopes: scopes,
			Claims: upstreams.ClaimMapping{RolesClaim: "groups", RequiredGroup: "acme"}}, acct)
		gh.set(func(gh *fakeGitHub) { gh.withhold = "read:org" })
		// idp must not ask /user/orgs (403 without the scope): the
		// sign-in is refused for the group, not failed as GitHub's fault.
		f.refused(t, toGitHub(t, f, gh), http.StatusForbidden, "cannot sign in here", "not in group")
	})
	t.Run("without read:org nobody is in a group", func(t *testing.T) {
		f, gh := newGitHubFed(t, upstreams.Spec{JIT: true,
			Claims: upstreams.ClaimMapping{RolesClaim: "groups", RequiredGroup: "acme"}}, acct)
		f.refused(t, toGitHub(t, f, gh), http.StatusForbidden, "cannot sign in here", "not in group")
	})
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestUpstreamGitHubFailures: whatever goes wrong at GitHub or on the way
// back shows a page in plain words and creates or links nothing.
func TestUpstreamGitHubFailures(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL
		status int
		words  string
		why    string
	}{
		{"replayed state", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			state := f.stateCookie(t)
			f.finish(t, cb)
			f.setStateCookie(t, state)
			return cb
		}, http.StatusBadRequest, "could not be completed", "unknown, used or expired state"},
		{"another browser", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			f.br = f.a.Browser(t)
			return cb
		}, http.StatusBadRequest, "could not be completed", "not this browser's"},
		{"PKCE verifier not the one challenged", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			if err := f.a.DB.Gorm.Exec("UPDATE upstream_states SET code_verifier = 'another-verifier-of-fourty-three-characters'").Error; err != nil {
				t.Fatal(err)
			}
			return cb
		}, http.StatusBadGateway, "did not work", "invalid_grant"},
		{"token endpoint error", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			q := cb.Query()
			q.Set("code", "forged-code")
			cb.RawQuery = q.Encode()
			return cb
		}, http.StatusBadGateway, "did not work", "bad_verification_code"},
		{"user API 500", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			gh.set(func(gh *fakeGitHub) { gh.userFails = 1 })
			return cb
		}, http.StatusBadGateway, "did not work", "answered 500"},
		{"emails not JSON", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			gh.set(func(gh *fakeGitHub) { gh.emailsRaw = `{"message":"an object, not the list"}` })
			return cb
		}, http.StatusBadGateway, "did not work", "not the JSON expected"},
		{"GitHub down", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			gh.srv.Close()
			return cb
		}, http.StatusBadGateway, "did not work", "token endpoint"},
		{"declined at GitHub", func(t *testing.T, f *fed, gh *fakeGitHub, cb *url.URL) *url.URL {
			q := url.Values{"state": {cb.Query().Get("state")}, "error": {"access_denied"},
				"error_description": {"The user has denied your application access."}}
			cb.RawQuery = q.Encode()
			return cb
		}, http.StatusForbidden, "was cancelled", "access_denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, gh := newGitHubFed(t, upstreams.Spec{JIT: true}, ghUser())
			cb := tc.break_(t, f, gh, toGitHub(t, f, gh))
			before, _ := f.counts(t)
			f.refused(t, cb, tc.status, tc.words, tc.why)
			if n, _ := f.counts(t); n != before {
				t.Errorf("%d users after the refusal, %d before", n, before)
			}
			if strings.Contains(f.log.String(), "gho_") || strings.Contains(f.log.String(), ghSecret) {
				t.Errorf("the log holds a token or the secret:\n%s", f.log.String())
			}
		})
	}
}

// TestUpstreamOAuth2ClaimMapping signs in through a plain OAuth 2.0
// upstream whose userinfo is not OpenID-shaped, mapped by
// --claim-mapping sub=id,email=mail,name=display_name: the numeric id is
// the subject; without email_verified mapped the email is not trusted,
// so an existing account is not linked.
func TestUpstreamOAuth2ClaimMapping(t *testing.T) {
	fields, err := upstreams.ParseClaimMapping("sub=id,email=mail", "name=display_name")
	if err != nil {
		t.Fatal(err)
	}
	spec := upstreams.Spec{Kind: upstreams.KindOAuth2, JIT: true, LinkByEmail: true}
	spec.Claims.Map(fields)
	logs := &lockedBuffer{}
	a := servertest.New(t, func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	gh := newFakeGitHub(t, a.URL+upstreams.CallbackPath("corp"), ghUser())
	gh.userinfo = map[string]any{"id": 42, "mail": "ada@corp.example", "display_name": "Ada L.", "email": "ignored@corp.example"}
	spec.ID, spec.Name, spec.ClientID, spec.Secret = "corp", "Corp OAuth", ghClientID, ghSecret
	spec.AuthURL, spec.TokenURL, spec.UserinfoURL = gh.srv.URL+"/login/oauth/authorize", gh.srv.URL+"/login/oauth/access_token", gh.srv.URL+"/custom/userinfo"
	spec.Scopes = []string{"profile"}
	if _, err := a.App.Upstreams.Create(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	f := &fed{a: a, rp: newRP(t, a, clients.Spec{ID: "rp", Trusted: true}), br: a.Browser(t), log: logs}
	claims := f.finish(t, toGitHub(t, f, gh))
	ctx := context.Background()
	user, err := a.Users.Store().ByEmail(ctx, "ada@corp.example")
	if err != nil || claims["sub"] != user.ID || user.Name != "Ada L." || user.EmailVerified {
		t.Fatalf("user %+v %v, claims %v: want the mapped email and name, unverified", user, err, claims)
	}
	if q := gh.authSeen; q.Get("scope") != "profile" || q.Has("nonce") {
		t.Errorf("authorization request %v: want only the configured scope, no openid, no nonce", q)
	}
	if links, _ := a.App.Upstreams.Store().LinksOf(ctx, user.ID); len(links) != 1 || links[0].Subject != "42" {
		t.Fatalf("links %+v: want the number 42 as the subject", links)
	}

	// Another person at the same provider whose address an idp user has:
	// the provider never said it verified it, so no link.
	a.CreateUser(t, "bob@corp.example", fedPassword)
	gh.set(func(gh *fakeGitHub) { gh.userinfo = map[string]any{"id": 43, "mail": "bob@corp.example"} })
	f.br = a.Browser(t)
	f.refused(t, toGitHub(t, f, gh), http.StatusConflict, "already exists", "did not say email_verified")

	// A userinfo without the mapped subject is the provider's failure.
	gh.set(func(gh *fakeGitHub) { gh.userinfo = map[string]any{"mail": "carol@corp.example"} })
	f.br = a.Browser(t)
	f.refused(t, toGitHub(t, f, gh), http.StatusBadGateway, "did not work", "for sub")
	if _, err := a.Users.Store().ByEmail(ctx, "carol@corp.example"); err == nil {
		t.Error("a user was made without a subject")
	}
}
