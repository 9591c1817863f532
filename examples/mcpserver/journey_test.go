package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"idp/clients"
	"idp/resources"
	idpserver "idp/server"
	"idp/server/servertest"
)

// startMCP starts the example server for idp at issuer; its resource URL
// is its own /mcp.
func startMCP(t *testing.T, issuer string) string {
	t.Helper()
	var h atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	resource := srv.URL + "/mcp"
	handler, err := New(context.Background(), issuer, resource)
	if err != nil {
		t.Fatal(err)
	}
	h.Store(handler)
	return resource
}

// TestProtectedResource: without a token, or with one for another
// audience, the server answers 401 naming its RFC 9728 metadata, which
// names idp.
func TestProtectedResource(t *testing.T) {
	env := servertest.New(t)
	resource := startMCP(t, env.URL)
	resp, err := http.Post(resource, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	base := strings.TrimSuffix(resource, "/mcp")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="`+resource+`", resource_metadata="`+base+`/.well-known/oauth-protected-resource/mcp"` {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	mresp, err := http.Get(base + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Resource string   `json:"resource"`
		AS       []string `json:"authorization_servers"`
	}
	_ = json.NewDecoder(mresp.Body).Decode(&md)
	mresp.Body.Close()
	if md.Resource != resource || len(md.AS) != 1 || md.AS[0] != env.URL {
		t.Fatalf("metadata %+v", md)
	}
	// A token idp issued, but for another audience (the client itself).
	_, secret := env.CreateClient(t, clients.Spec{ID: "svc", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{"api"}})
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", secret)
	tr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(tr.Body).Decode(&tok)
	tr.Body.Close()
	call, _ := http.NewRequest(http.MethodPost, resource, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	call.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	cresp, err := http.DefaultClient.Do(call)
	if err != nil {
		t.Fatal(err)
	}
	cresp.Body.Close()
	if cresp.StatusCode != 401 || !strings.Contains(cresp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("a token for another audience: %d %q", cresp.StatusCode, cresp.Header.Get("WWW-Authenticate"))
	}
}

// TestMCPJourney: the official MCP TypeScript SDK's client
// (interop/mcp/journey.mjs), with nothing but the server's URL, discovers
// idp through RFC 9728 and RFC 8414, registers itself, signs the user in
// with the code flow, PKCE and a resource indicator, and calls a tool;
// the token it got is for exactly that resource.
func TestMCPJourney(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "interop", "mcp"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk"))
	if err != nil || modErr != nil {
		msg := "MCP journey skipped: needs node and `npm ci` in interop/mcp"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	env := servertest.New(t, func(c *idpserver.Config) { c.Registration = "open" })
	user := env.CreateUser(t, "ada@example.com", "correct horse battery staple")
	resource := startMCP(t, env.URL)
	// The operator registers the MCP server as a resource (its tokens' aud).
	env.CreateResource(t, resources.Spec{URI: resource, Name: "Example MCP server", NoSecret: true})
	const redirect = "http://127.0.0.1:9/callback"
	cmd := exec.Command(node, "journey.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MCP_URL="+resource, "EMAIL=ada@example.com", "PASSWORD=correct horse battery staple",
		"REDIRECT_URI="+redirect)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the MCP journey failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res struct {
		OK          bool     `json:"ok"`
		ClientID    string   `json:"client_id"`
		Resource    string   `json:"resource"`
		Challenge   string   `json:"code_challenge_method"`
		Tools       []string `json:"tools"`
		WhoAmI      string   `json:"whoami"`
		AccessToken string   `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || !res.OK {
		t.Fatalf("journey output: %v\n%s", err, out)
	}
	if res.Resource != resource || res.Challenge != "S256" || !slices.Equal(res.Tools, []string{"whoami"}) ||
		!strings.Contains(res.WhoAmI, "sub="+user.ID) || !strings.Contains(res.WhoAmI, "aud="+resource) {
		t.Fatalf("journey %+v", res)
	}
	claims, err := env.Tokens.VerifyAccessToken(context.Background(), res.AccessToken)
	if err != nil || !slices.Equal([]string(claims.Audience), []string{resource}) || claims.ClientID != res.ClientID {
		t.Fatalf("the SDK's access token: %+v, %v", claims, err)
	}
	c, err := env.Clients.Store().ByID(context.Background(), res.ClientID)
	if err != nil || c.Registration != clients.RegisteredOpen || !c.Public || c.Trusted {
		t.Fatalf("the SDK's registration: %+v, %v", c, err)
	}
	t.Logf("MCP journey: client %s registered itself, called whoami: %s", res.ClientID, res.WhoAmI)
}
