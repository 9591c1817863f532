package server_test

// Helpers of the token lifecycle tests (refresh, revocation,
// introspection, logout, account page, purge): calls to the client-
// authenticated JSON endpoints, and row counts for "nothing else changed".

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"idp/oauth"
	"idp/server/servertest"
)

// creds is how a request authenticates its client: HTTP Basic when secret
// is set, client_id alone in the form for a public client, nothing at all
// when id is empty.
type creds struct{ id, secret string }

// credsOf returns the relying party's own credentials.
func credsOf(app *rp) creds { return creds{app.conf.ClientID, app.conf.ClientSecret} }

// apiResult is an answer of /token, /revoke, /introspect or /userinfo.
type apiResult struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r apiResult) str(k string) string { s, _ := r.body[k].(string); return s }

// callAPI posts form to path with the client credentials c.
func callAPI(t *testing.T, env *servertest.Env, path string, c creds, form url.Values) apiResult {
	t.Helper()
	if c.id != "" && c.secret == "" {
		form.Set("client_id", c.id)
	}
	req, err := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.secret != "" {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}
	return sendReq(t, req)
}

// send does req and decodes a JSON object answer, whatever the status.
func sendReq(t *testing.T, req *http.Request) apiResult {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := apiResult{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", req.Method, req.URL.Path, raw, err)
		}
	}
	return r
}

// revokeToken calls the revocation endpoint (RFC 7009); hint may be "".
func revokeToken(t *testing.T, env *servertest.Env, c creds, token, hint string) apiResult {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return callAPI(t, env, "/revoke", c, form)
}

// introspect calls the introspection endpoint (RFC 7662); hint may be "".
func introspectToken(t *testing.T, env *servertest.Env, c creds, token, hint string) apiResult {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return callAPI(t, env, "/introspect", c, form)
}

// wantActive checks an introspection answer: 200 and active as wanted. An
// inactive answer must say nothing else (RFC 7662 §2.2).
func wantActive(t *testing.T, r apiResult, active bool) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("introspection: status %d %s", r.status, r.raw)
	}
	if got, _ := r.body["active"].(bool); got != active {
		t.Fatalf("introspection active=%v, want %v: %s", got, active, r.raw)
	}
	if !active && len(r.body) != 1 {
		t.Errorf("an inactive token must reveal nothing: %s", r.raw)
	}
}

// wantError checks an RFC 6749 §5.2 JSON error: status, code, no-store.
func wantError(t *testing.T, r apiResult, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d error=%s", r.status, r.raw, status, code)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("error answer Cache-Control %q, want no-store", cc)
	}
}

// userinfoStatus calls /userinfo with a bearer token and returns the
// answer; 200 means the access token is accepted.
func userinfoStatus(t *testing.T, env *servertest.Env, token string) apiResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return sendReq(t, req)
}

// wantAccepted and wantRefused check /userinfo's view of an access token.
func wantAccepted(t *testing.T, env *servertest.Env, token string) {
	t.Helper()
	if r := userinfoStatus(t, env, token); r.status != http.StatusOK {
		t.Fatalf("userinfo refused a live access token: %d %s", r.status, r.raw)
	}
}

func wantRefused(t *testing.T, env *servertest.Env, token string) {
	t.Helper()
	r := userinfoStatus(t, env, token)
	wantError(t, r, http.StatusUnauthorized, "invalid_token")
}

// tokenResp is a successful token endpoint answer.
type tokenResp struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
}

// mustRefresh refreshes and fails the test unless it succeeds.
func mustRefresh(t *testing.T, app *rp, token string) tokenResp {
	t.Helper()
	status, raw := refresh(t, app, token)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, raw)
	}
	var tr tokenResp
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.RefreshToken == token {
		t.Fatalf("refresh did not rotate: %s", raw)
	}
	return tr
}

// refreshWith posts a refresh_token grant with c and extra form fields.
func refreshWith(t *testing.T, env *servertest.Env, c creds, token string, extra url.Values) apiResult {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	for k, v := range extra {
		form[k] = v
	}
	return callAPI(t, env, "/token", c, form)
}

// rowState is the row counts a refused request must leave as they were.
type rowState struct {
	Families, RevokedFamilies, Refresh, UsedRefresh, Denylist, Sessions int64
}

func rowSnapshot(t *testing.T, env *servertest.Env) rowState {
	t.Helper()
	var s rowState
	for _, q := range []struct {
		n            *int64
		table, where string
	}{
		{&s.Families, "refresh_families", ""},
		{&s.RevokedFamilies, "refresh_families", "revoked_at IS NOT NULL"},
		{&s.Refresh, "refresh_tokens", ""},
		{&s.UsedRefresh, "refresh_tokens", "used_at IS NOT NULL"},
		{&s.Denylist, "revoked_tokens", ""},
		{&s.Sessions, "sessions", ""},
	} {
		*q.n = rowCount(t, env, q.table, q.where)
	}
	return s
}

// unchanged fails if the counts moved since before.
func unchanged(t *testing.T, env *servertest.Env, before rowState) {
	t.Helper()
	if after := rowSnapshot(t, env); after != before {
		t.Fatalf("state changed: before %+v, after %+v", before, after)
	}
}

// rowCount counts the rows of table matching where (all when empty).
func rowCount(t *testing.T, env *servertest.Env, table, where string, args ...any) int64 {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int64
	if err := env.DB.Gorm.Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// familyOf returns the refresh family id of a refresh token.
func familyOf(t *testing.T, env *servertest.Env, token string) string {
	t.Helper()
	var id string
	err := env.DB.Gorm.Raw("SELECT family_id FROM refresh_tokens WHERE token_hash = ?", oauth.HashSecret(token)).Scan(&id).Error
	if err != nil || id == "" {
		t.Fatalf("no refresh token row: %v", err)
	}
	return id
}

// liveSessions returns how many sessions the user has.
func liveSessions(t *testing.T, env *servertest.Env, userID string) int {
	t.Helper()
	list, err := env.Sessions.List(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// decodeInto decodes a JSON answer into v.
func decodeInto(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}
