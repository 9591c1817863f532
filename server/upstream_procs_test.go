package server_test

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"idp/server/servertest"
)

// The real upstreams of upstream_real_test.go, each its own process:
// panva's oidc-provider (node) and a second idp (idp serve), and how a
// browser signs in on their pages.

// startOIDCProvider runs interop/oidc-upstream/upstream.mjs. It needs
// node and `npm ci` in that folder; .ci/run provides both, so there a
// missing piece is a failure, elsewhere a skip.
func startOIDCProvider(t *testing.T, redirectURIs []string, accounts []upstreamAccount) *realUpstream {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "interop", "oidc-upstream"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider"))
	if err != nil || modErr != nil {
		msg := "the oidc-provider upstream needs node and `npm ci` in interop/oidc-upstream"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	secret := rand.Text() + rand.Text()
	clientList := []map[string]any{{"client_id": "idp", "client_secret": secret, "redirect_uris": redirectURIs}}
	table := map[string]any{}
	subs := map[string]string{}
	for _, a := range accounts {
		// Every account is in the same groups; those under "idp-" are
		// meant for idp (the roles scenario keeps only them).
		table[a.Login] = map[string]any{"email": a.Email, "email_verified": a.Verified, "name": a.Name,
			"groups": []string{"idp-staff", "idp-admin", "corp-all"}}
		subs[a.Login] = a.Login // the login name is the account id, and so the sub
	}
	clientsJSON, _ := json.Marshal(clientList)
	accountsJSON, _ := json.Marshal(table)
	cmd := exec.Command(node, "upstream.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT=0", "CLIENTS="+string(clientsJSON), "ACCOUNTS="+string(accountsJSON))
	issuer := startReady(t, cmd, "oidc-provider ready ")
	return &realUpstream{issuer: issuer, clientID: "idp", secret: secret,
		scopes: []string{"email", "profile", "groups"}, subs: subs, signIn: oidcProviderSignIn(issuer),
		groups:  groupRule{Claim: "groups", Member: "idp-staff", NonMember: "idp-board", Prefix: "idp-", Roles: []string{"staff", "admin"}},
		refresh: oidcProviderRefresh(issuer, "idp", secret, cmd)}
}

// startReady starts cmd and waits for the line with prefix on its
// stdout, returning the rest of that line; the process is killed when t
// ends. Its output is kept for the failure message.
func startReady(t *testing.T, cmd *exec.Cmd, prefix string) string {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	ready, drained := make(chan string, 1), make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-drained // Wait closes the pipe: only once every read is done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("output of %s:\n%s", cmd.Args, out.String())
		}
	})
	go func() {
		defer close(drained)
		sc, seen := bufio.NewScanner(stdout), false
		for sc.Scan() {
			line := sc.Text()
			_, _ = io.WriteString(out, line+"\n")
			if rest, ok := strings.CutPrefix(line, prefix); ok && !seen {
				seen = true
				ready <- rest
			}
		}
		close(ready) // the process closed its stdout: it ended
	}()
	select {
	case rest, ok := <-ready:
		if !ok {
			t.Fatalf("%s ended before it was ready:\n%s", cmd.Args, out.String())
		}
		return strings.TrimSpace(rest)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s not ready after 60 s:\n%s", cmd.Args, out.String())
	}
	return ""
}

var (
	formRE  = regexp.MustCompile(`(?is)<form[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRE  = regexp.MustCompile(`(?is)\b(name|value)="([^"]*)"`)
)

// htmlForm is the first form of a page: where it posts, and its inputs
// with their values.
func htmlForm(t *testing.T, page string) (action string, fields url.Values) {
	t.Helper()
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on the page: %.800s", page)
	}
	fields = url.Values{}
	for _, in := range inputRE.FindAllString(m[2], -1) {
		var name, value string
		for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
			if strings.EqualFold(a[1], "name") {
				name = html.UnescapeString(a[2])
			} else {
				value = html.UnescapeString(a[2])
			}
		}
		if name != "" {
			fields.Set(name, value)
		}
	}
	return html.UnescapeString(m[1]), fields
}

// oidcProviderSignIn drives oidc-provider's development pages: it
// follows the upstream's redirects, fills the login form (the login name
// is the account id; any password), submits the consent form as it is,
// and stops at the first redirect away from the upstream.
func oidcProviderSignIn(issuer string) func(*testing.T, *http.Client, string, upstreamAccount) *url.URL {
	return func(t *testing.T, br *http.Client, authURL string, acct upstreamAccount) *url.URL {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, authURL, nil)
		for range 10 {
			resp, err := br.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", req.Method, req.URL, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode >= 300 && resp.StatusCode < 400:
				loc := servertest.Location(t, resp)
				if !strings.HasPrefix(loc.String(), issuer+"/") {
					return loc
				}
				req, _ = http.NewRequest(http.MethodGet, loc.String(), nil)
			case resp.StatusCode == http.StatusOK:
				action, fields := htmlForm(t, string(body))
				if fields.Has("login") {
					fields.Set("login", acct.Login)
					fields.Set("password", "any password will do")
				}
				target, err := req.URL.Parse(action)
				if err != nil {
					t.Fatal(err)
				}
				req, _ = http.NewRequest(http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			default:
				t.Fatalf("oidc-provider answered %s %s with %d: %.600s", req.Method, req.URL, resp.StatusCode, body)
			}
		}
		t.Fatalf("oidc-provider: too many steps from %s", authURL)
		return nil
	}
}

// startIdpServe builds idp, sets up a SQLite database with its CLI (the
// accounts as users, a trusted confidential client for a) and runs
// `idp serve` on a free loopback port.
func startIdpServe(t *testing.T, redirectURIs []string, accounts []upstreamAccount) *realUpstream {
	t.Helper()
	dir := t.TempDir()
	bin := servertest.BuildIDP(t, dir)
	addr := servertest.FreeAddr(t)
	issuer := "http://" + addr
	env := append(servertest.EnvWithoutIDP(), "IDP_DATABASE="+filepath.Join(dir, "upstream.db"),
		"IDP_MASTER_KEY_FILE="+filepath.Join(dir, "master.key"), "IDP_ISSUER="+issuer)
	// cli runs an idp command on the upstream's database, failing t.
	cli := func(t *testing.T, stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("idp %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	cli(t, "", "migrate")
	subs := map[string]string{}
	for _, a := range accounts {
		args := []string{"users", "create", "--email", a.Email, "--name", a.Name, "--password-stdin"}
		if a.Verified {
			args = append(args, "--email-verified")
		}
		subs[a.Login] = strings.TrimSpace(cli(t, fedPassword+"\n", args...)) // it prints the user id, idp's sub
	}
	secret := rand.Text() + rand.Text()
	args := []string{"clients", "create", "--id", "idp-a", "--name", "idp under test", "--trusted", "--secret-stdin"}
	for _, u := range redirectURIs {
		args = append(args, "--redirect-uri", u)
	}
	cli(t, secret+"\n", args...)

	cmd := exec.Command(bin, "serve", "--addr", addr)
	cmd.Env = env
	waitServing(t, cmd, issuer)
	// idp knows no groups scope: it refuses a request for it (invalid_scope).
	return &realUpstream{issuer: issuer, clientID: "idp-a", secret: secret, scopes: []string{"email", "profile"}, subs: subs,
		signIn: idpSignIn(issuer),
		// idp puts no groups in its ID tokens; its amr (["pwd"] after a
		// password sign-in) is the list claim to map.
		groups: groupRule{Claim: "amr", Member: "pwd", NonMember: "hwk", Roles: []string{"pwd"}},
		// Its clients have the refresh_token grant and offline_access by
		// default. Its CLI disables an account; it has no way to revoke
		// one client's grant of one person, so revoke stays nil.
		refresh: &upstreamRefresh{
			grants: func(t *testing.T) int { return refreshGrantsIssued(t, issuer) },
			disable: func(t *testing.T, login string) {
				t.Helper()
				for _, a := range accounts {
					if a.Login == login {
						cli(t, "", "users", "disable", "--email", a.Email)
						return
					}
				}
				t.Fatalf("no account %s", login)
			},
		},
		revokeSigningKey: func(t *testing.T) (string, string) {
			t.Helper()
			old := activeKID(t, cli(t, "", "keys", "list", "--json"))
			cli(t, "", "keys", "revoke", old)
			fresh := activeKID(t, cli(t, "", "keys", "list", "--json"))
			// The running server sees key changes within 5 s (CONTRACT);
			// its JWKS and its signer share one snapshot, so once the JWKS
			// has changed, new tokens are signed with the fresh key.
			waitJWKS(t, issuer, func(kids []string) bool { return !slices.Contains(kids, old) && slices.Contains(kids, fresh) })
			return old, fresh
		}}
}

// refreshGrantsIssued is how many refresh_token grants the idp at issuer
// answered with tokens, from its /metrics.
func refreshGrantsIssued(t *testing.T, issuer string) int {
	t.Helper()
	resp, err := http.Get(issuer + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s/metrics: %d", issuer, resp.StatusCode)
	}
	n := 0
	for line := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(line, "idp_tokens_issued_total{"); ok && strings.Contains(rest, `grant="refresh_token"`) {
			f := strings.Fields(rest)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}

// activeKID is the active RS256 key (the alg of idp-a's tokens) in the
// output of `idp keys list --json`.
func activeKID(t *testing.T, listJSON string) string {
	t.Helper()
	var list []struct{ KID, Alg, State string }
	if err := json.Unmarshal([]byte(listJSON), &list); err != nil {
		t.Fatalf("keys list --json: %v\n%s", err, listJSON)
	}
	for _, k := range list {
		if k.Alg == "RS256" && k.State == "active" {
			return k.KID
		}
	}
	t.Fatalf("no active RS256 key in %s", listJSON)
	return ""
}

// jwksKIDs are the kids an issuer publishes now.
func jwksKIDs(t *testing.T, issuer string) []string {
	t.Helper()
	resp, err := http.Get(issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS of %s: %v", issuer, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

// waitJWKS polls the issuer's JWKS until ok holds (15 s at most).
func waitJWKS(t *testing.T, issuer string, ok func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for kids := jwksKIDs(t, issuer); !ok(kids); kids = jwksKIDs(t, issuer) {
		if time.Now().After(deadline) {
			t.Fatalf("the JWKS of %s did not change as expected within 15 s: %v", issuer, kids)
		}
		<-tick.C
	}
}

// idpSignIn signs in at an idp whose issuer is given, with the email and
// fedPassword. servertest's Authorize drives idp's sign-in and consent
// pages; it needs only the issuer, to tell idp's own redirects from the
// client's.
func idpSignIn(issuer string) func(*testing.T, *http.Client, string, upstreamAccount) *url.URL {
	return func(t *testing.T, br *http.Client, authURL string, acct upstreamAccount) *url.URL {
		t.Helper()
		return (&servertest.Env{URL: issuer}).Authorize(t, br, authURL, acct.Email, fedPassword)
	}
}

// waitServing starts idp serve and waits until its /readyz answers 200
// (database reachable, keys loaded), failing at once if it exits.
func waitServing(t *testing.T, cmd *exec.Cmd, issuer string) {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start idp serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("idp serve output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(issuer + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("idp serve exited before it was ready (%v):\n%s", err, out.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("idp serve not ready after 60 s (%v):\n%s", err, out.String())
		}
	}
}
