package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestResourcesCLI: an API registered by the CLI gets tokens for its URI
// from the running server and introspects them with the secret it was
// given; list, update and delete do what they say, a client's default
// resource must be registered, and bad input is refused with the reason.
func TestResourcesCLI(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	const api, secret = "https://orders.example/api", "orders-api-secret-of-at-least-32-bytes"
	mustRun(t, secret, d.cmd("resources", "create", "--id", api, "--name", "Orders", "--scope", "orders:read",
		"--secret-stdin", "--signing-alg", "ES256", "--access-token-ttl", "5m")...)
	out := mustRun(t, "", d.cmd("resources", "create", "--id", "urn:example:billing", "--json")...)
	var made struct {
		ID     string `json:"id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &made); err != nil || made.ID != "urn:example:billing" || len(made.Secret) != 43 {
		t.Fatalf("create --json: %q %v", out, err)
	}
	wantError(t, "", []string{"absolute"}, d.cmd("resources", "create", "--id", "/relative")...)
	wantError(t, "", []string{"already"}, d.cmd("resources", "create", "--id", api)...)
	wantError(t, "", []string{"not registered"}, d.cmd("clients", "create", "--id", "svc0", "--grant-type", "client_credentials",
		"--scope", "orders:read", "--default-resource", "https://ghost.example")...)
	out = mustRun(t, "", d.cmd("clients", "create", "--id", "svc", "--grant-type", "client_credentials",
		"--scope", "orders:read", "--default-resource", api, "--json")...)
	var svc struct {
		Secret string `json:"client_secret"`
	}
	_ = json.Unmarshal([]byte(out), &svc)

	var list []struct {
		ID             string   `json:"id"`
		SigningAlg     string   `json:"signing_alg"`
		AccessTokenTTL int64    `json:"access_token_ttl"`
		Scopes         []string `json:"scopes"`
		Introspects    bool     `json:"introspects"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", d.cmd("resources", "list", "--json")...)), &list); err != nil || len(list) != 2 ||
		list[0].ID != api || list[0].SigningAlg != "ES256" || list[0].AccessTokenTTL != 300 || !list[0].Introspects {
		t.Fatalf("list: %+v %v", list, err)
	}

	s := startServe(t, d)
	post := func(form url.Values, id, pw string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.url+"/"+form.Get("_path"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(pw))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		body["_status"] = resp.StatusCode
		return body
	}
	tok := post(url.Values{"_path": {"token"}, "grant_type": {"client_credentials"}}, "svc", svc.Secret)
	at, _ := tok["access_token"].(string)
	if at == "" || tok["expires_in"] != float64(300) {
		t.Fatalf("token for the default resource: %v", tok)
	}
	if r := post(url.Values{"_path": {"introspect"}, "token": {at}}, api, secret); r["active"] != true || r["client_id"] != "svc" || r["aud"] != api {
		t.Fatalf("the API introspecting: %v", r)
	}
	if r := post(url.Values{"_path": {"introspect"}, "token": {at}}, "urn:example:billing", made.Secret); r["active"] != false {
		t.Fatalf("another API introspecting: %v", r)
	}

	mustRun(t, "", d.cmd("resources", "update", "--id", api, "--access-token-ttl", "0", "--signing-alg", "")...)
	out = mustRun(t, "", d.cmd("resources", "update", "--id", api, "--new-secret")...)
	if !strings.Contains(out, "client_secret: ") {
		t.Fatalf("update --new-secret: %q", out)
	}
	if r := post(url.Values{"_path": {"introspect"}, "token": {at}}, api, secret); r["_status"] != http.StatusUnauthorized {
		t.Fatalf("the old secret after --new-secret: %v", r)
	}
	wantError(t, "", []string{"nothing to change"}, d.cmd("resources", "update", "--id", api)...)
	mustRun(t, "", d.cmd("resources", "delete", "--id", "urn:example:billing")...)
	wantError(t, "", []string{"unknown resource"}, d.cmd("resources", "delete", "--id", "urn:example:billing")...)
}
