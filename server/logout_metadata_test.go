package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/admin"
	"idp/clients"
	"idp/server/servertest"
)

// TestLogoutMetadata: discovery says back- and front-channel logout work
// (with sid); the registration endpoint takes and returns the clients'
// logout metadata and refuses a bad URI; the admin layer changes it.
func TestLogoutMetadata(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	resp, err := http.Get(env.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	for _, k := range []string{"backchannel_logout_supported", "backchannel_logout_session_supported",
		"frontchannel_logout_supported", "frontchannel_logout_session_supported"} {
		if doc[k] != true {
			t.Errorf("discovery %s = %v, want true", k, doc[k])
		}
	}

	md := map[string]any{"redirect_uris": []string{"https://rp.example/cb"}, "client_name": "RP",
		"backchannel_logout_uri": "https://rp.example/bcl", "backchannel_logout_session_required": true,
		"frontchannel_logout_uri": "https://rp.example/fcl", "frontchannel_logout_session_required": true}
	status, out, _ := register(t, env, http.MethodPost, "/register", initialToken(t, env, time.Hour, 5), md)
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, out)
	}
	for k, v := range md {
		if k != "redirect_uris" && out[k] != v {
			t.Errorf("registered %s = %v, want %v", k, out[k], v)
		}
	}
	id, _ := out["client_id"].(string)
	c, err := env.Clients.Store().ByID(context.Background(), id)
	if err != nil || c.BackchannelLogoutURI != "https://rp.example/bcl" || !c.FrontchannelLogoutSessionRequired {
		t.Fatalf("stored %+v, %v", c, err)
	}

	md["backchannel_logout_uri"] = "https://rp.example/bcl#frag"
	status, out, _ = register(t, env, http.MethodPost, "/register", initialToken(t, env, time.Hour, 5), md)
	if status != http.StatusBadRequest || out["error"] != "invalid_client_metadata" ||
		!strings.Contains(out["error_description"].(string), "backchannel_logout_uri") {
		t.Fatalf("a fragment: %d %v", status, out)
	}

	empty, off := "", false
	view, err := env.App.Admin.UpdateClient(context.Background(), admin.Actor{Name: "root"}, id,
		admin.ClientUpdate{BackchannelLogoutURI: &empty, FrontchannelLogoutSessionRequired: &off})
	if err != nil || view.BackchannelLogoutURI != "" || view.FrontchannelLogoutSessionRequired || view.FrontchannelLogoutURI == "" {
		t.Fatalf("admin update: %+v, %v", view, err)
	}
}

// TestAdminWebClientLogoutFields: the admin client page shows and saves
// the logout URIs and flags, and refuses a bad one.
func TestAdminWebClientLogoutFields(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	c.env.CreateClient(t, clients.Spec{ID: "notes", RedirectURIs: []string{"https://notes.example/cb"}})
	form := url.Values{"redirect_uris": {"https://notes.example/cb"}, "scopes": {"openid"}, "signing_alg": {"RS256"},
		"application_type": {"web"}, "grant_type": {"authorization_code"},
		"backchannel_logout_uri": {"https://notes.example/bcl"}, "backchannel_logout_session_required": {"1"},
		"frontchannel_logout_uri": {"https://notes.example/fcl"}}
	if resp, _ := c.post(t, "/admin/clients/notes", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	cl, err := c.env.Clients.Store().ByID(t.Context(), "notes")
	want := clients.Logout{BackchannelLogoutURI: "https://notes.example/bcl", BackchannelLogoutSessionRequired: true,
		FrontchannelLogoutURI: "https://notes.example/fcl"}
	if err != nil || cl.Logout != want {
		t.Fatalf("saved %+v, %v", cl.Logout, err)
	}
	p := c.page(t, "/admin/clients/notes")
	if !strings.Contains(p.Body, `value="https://notes.example/bcl"`) ||
		!strings.Contains(p.Body, `name="backchannel_logout_session_required" type="checkbox" value="1" checked`) {
		t.Fatalf("page does not show the logout settings:\n%.3000s", p.Body)
	}
	form.Set("frontchannel_logout_uri", "http://notes.example/fcl")
	if resp, page := c.post(t, "/admin/clients/notes", form); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page.Body, "Not saved") {
		t.Fatalf("an http front-channel URI: %d", resp.StatusCode)
	}
}
