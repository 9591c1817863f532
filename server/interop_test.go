package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"idp/clients"
	"idp/server/servertest"
)

// TestOpenIDClientInterop runs panva's openid-client, unmodified, against
// the in-process provider (interop/openid-client/flow.mjs): code flow with
// PKCE, ID token validation, UserInfo, refresh, client_credentials,
// introspection and revocation. It needs node and `npm ci` in that folder;
// .ci/run provides both, so there a missing piece is a failure.
func TestOpenIDClientInterop(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "interop", "openid-client"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "openid-client"))
	if err != nil || modErr != nil {
		msg := "openid-client interop skipped: needs node and `npm ci` in interop/openid-client"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	env := servertest.New(t)
	env.CreateUser(t, testEmail, testPassword)
	redirect := "http://127.0.0.1:9/callback"
	_, webSecret := env.CreateClient(t, clients.Spec{ID: "oc-web", Trusted: true, RedirectURIs: []string{redirect}})
	_, ccSecret := env.CreateClient(t, clients.Spec{ID: "oc-m2m", SigningAlg: "ES256",
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}})

	cmd := exec.Command(node, "flow.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "IDP_ISSUER="+env.URL, "WEB_CLIENT_ID=oc-web", "WEB_CLIENT_SECRET="+webSecret,
		"WEB_REDIRECT_URI="+redirect, "EMAIL="+testEmail, "PASSWORD="+testPassword,
		"CC_CLIENT_ID=oc-m2m", "CC_CLIENT_SECRET="+ccSecret)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "openid-client ok") {
		t.Fatalf("openid-client flow failed: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(string(out)))
}
