// Package idp_test holds the architecture test: the import rules of
// STYLE.md §1.1, checked on every run so the layering cannot drift.
package idp_test

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type goPackage struct {
	ImportPath  string
	Dir         string
	GoFiles     []string
	TestGoFiles []string
	Imports     []string
	Deps        []string
}

// listPackages runs `go list -json ./...` and decodes every package.
func listPackages(t *testing.T) []goPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// fileImports lists the imports of one Go file, for the rule "only
// store.go imports GORM".
func fileImports(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, imp := range f.Imports {
		out = append(out, strings.Trim(imp.Path.Value, `"`))
	}
	return out
}

func TestImportRules(t *testing.T) {
	// allowed lists, for each project package, the project packages it may
	// import (STYLE.md §1.1 "Direction").
	allowed := map[string][]string{
		"idp/oauth":                 {},
		"idp/dpop":                  {},
		"idp/dpop/dpoptest":         {"idp/dpop"},
		"idp/migrations":            {},
		"idp/templates":             {},
		"idp/db":                    {"idp/migrations"},
		"idp/db/dbtest":             {"idp/db"},
		"idp/users":                 {"idp/db"},
		"idp/clients":               {"idp/db", "idp/oauth"},
		"idp/sessions":              {"idp/db", "idp/oauth"},
		"idp/keys":                  {"idp/db"},
		"idp/throttle":              {"idp/db"},
		"idp/audit":                 {"idp/db"},
		"idp/mfa":                   {"idp/db", "idp/oauth"},
		"idp/mfa/mfatest":           {},
		"idp/mail":                  {"idp/db"},
		"idp/mail/mailtest":         {},
		"idp/selfservice":           {"idp/db", "idp/mail", "idp/users", "idp/sessions", "idp/tokens"},
		"idp/logout":                {"idp/db", "idp/clients", "idp/sessions", "idp/audit"},
		"idp/resources":             {"idp/db", "idp/oauth"},
		"idp/upstreams":             {"idp/db", "idp/oauth", "idp/users", "idp/verifier"},
		"idp/tokens":                {"idp/db", "idp/oauth", "idp/users", "idp/clients", "idp/audit", "idp/resources"},
		"idp/server":                {"idp/dpop", "idp/logout", "idp/admin", "idp/users", "idp/clients", "idp/sessions", "idp/tokens", "idp/keys", "idp/templates", "idp/audit", "idp/throttle", "idp/server/plumbing", "idp/server/protocol", "idp/server/pages", "idp/server/adminhttp", "idp/mfa", "idp/mail", "idp/selfservice", "idp/resources", "idp/upstreams"},
		"idp/server/adminhttp":      {"idp/server/plumbing", "idp/admin", "idp/oauth", "idp/users", "idp/clients", "idp/keys", "idp/templates", "idp/audit", "idp/mfa", "idp/resources", "idp/upstreams"},
		"idp/server/protocol":       {"idp/dpop", "idp/server/plumbing", "idp/oauth", "idp/users", "idp/clients", "idp/sessions", "idp/tokens", "idp/keys", "idp/templates", "idp/db", "idp/audit", "idp/mfa", "idp/throttle", "idp/resources"},
		"idp/server/pages":          {"idp/server/plumbing", "idp/oauth", "idp/users", "idp/clients", "idp/sessions", "idp/tokens", "idp/templates", "idp/db", "idp/audit", "idp/throttle", "idp/mfa", "idp/selfservice", "idp/upstreams"},
		"idp/server/plumbing":       {"idp/dpop", "idp/oauth", "idp/users", "idp/clients", "idp/sessions", "idp/tokens", "idp/keys", "idp/templates", "idp/db", "idp/audit", "idp/mfa", "idp/resources"},
		"idp/admin":                 {"idp/audit", "idp/clients", "idp/db", "idp/keys", "idp/sessions", "idp/throttle", "idp/tokens", "idp/users", "idp/mfa", "idp/resources", "idp/upstreams"},
		"idp/app":                   {"idp/logout", "idp/admin", "idp/server", "idp/db", "idp/keys", "idp/users", "idp/clients", "idp/sessions", "idp/tokens", "idp/templates", "idp/throttle", "idp/audit", "idp/mfa", "idp/mail", "idp/selfservice", "idp/resources", "idp/upstreams"},
		"idp/server/servertest":     {"*"},
		"idp/cmd/idpbench":          {"*"},
		"idp/cmd/idp":               {"*"},
		"idp/verifier":              {"idp/dpop"},
		"idp/verifier/echoverifier": {"idp/verifier"},
		"idp/examples/webapp":       {"*"},
		"idp/examples/mcpserver":    {"*"},
	}
	for _, p := range listPackages(t) {
		if p.ImportPath == "idp" {
			continue // this test's own package
		}
		rules, known := allowed[p.ImportPath]
		if !known {
			t.Errorf("package %s is not in the architecture map; add it to STYLE.md's table and to this test", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/labstack/echo") && !mayImportEcho(p.ImportPath) {
				t.Errorf("%s imports Echo; only idp/server, the packages under it and idp/verifier/echoverifier may", p.ImportPath)
			}
			if !strings.HasPrefix(imp, "idp/") || (len(rules) == 1 && rules[0] == "*") {
				continue
			}
			ok := false
			for _, a := range rules {
				ok = ok || a == imp
			}
			if !ok {
				t.Errorf("%s imports %s, which the layering forbids", p.ImportPath, imp)
			}
		}
		checkGormFiles(t, p)
	}
}

// mayImportEcho reports whether a package may import Echo: the server and
// its sub-packages, and the verifier's Echo middleware.
func mayImportEcho(path string) bool {
	return path == "idp/server" || strings.HasPrefix(path, "idp/server/") || path == "idp/verifier/echoverifier"
}

// checkGormFiles allows GORM imports only in db, db/dbtest and a domain
// package's store.go (or store_*.go) (tests may use it too, to corrupt rows on purpose).
func checkGormFiles(t *testing.T, p goPackage) {
	t.Helper()
	switch p.ImportPath {
	case "idp/db", "idp/db/dbtest":
		return
	}
	for _, f := range p.GoFiles {
		if f == "store.go" || strings.HasPrefix(f, "store_") {
			continue // a large store may be split into store_<concern>.go
		}
		for _, imp := range fileImports(t, filepath.Join(p.Dir, f)) {
			if strings.HasPrefix(imp, "gorm.io/") {
				t.Errorf("%s/%s imports %s; only store.go may", p.ImportPath, f, imp)
			}
		}
	}
}

// TestServerSplit keeps the server's sub-packages apart (issue #13): the
// protocol endpoints and the end-user pages meet only through a pending
// authorization request's id, over an interface the pages declare and the
// root server wires (so neither imports the other); the admin side knows
// neither; and the plumbing they all share knows none of them. Deps is
// transitive, so no detour through another package slips by.
func TestServerSplit(t *testing.T) {
	forbidden := map[string][]string{
		"idp/server/protocol":  {"idp/server/pages", "idp/server/adminhttp"},
		"idp/server/pages":     {"idp/server/protocol", "idp/server/adminhttp"},
		"idp/server/adminhttp": {"idp/server/protocol", "idp/server/pages"},
		"idp/server/plumbing":  {"idp/server/protocol", "idp/server/pages", "idp/server/adminhttp"},
	}
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		if _, ok := forbidden[p.ImportPath]; ok {
			seen[p.ImportPath] = true
		}
		for _, bad := range forbidden[p.ImportPath] {
			for _, dep := range p.Deps {
				if dep == bad {
					t.Errorf("%s depends on %s; the server split forbids it", p.ImportPath, bad)
				}
			}
		}
	}
	for pkg := range forbidden {
		if !seen[pkg] {
			t.Errorf("package %s is gone; a renamed package must keep this rule", pkg)
		}
	}
}

// TestNoEchoProxyOrRateLimiterMiddleware: Echo's middleware package holds
// its proxy and rate-limiter middleware, which take the client address from
// X-Real-IP / X-Forwarded-For by default (GO-2026-6872, GO-2026-6875, no
// fixed v4). idp writes its own middleware over its own IP extractor; this
// fails if any package starts importing Echo's.
func TestNoEchoProxyOrRateLimiterMiddleware(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/labstack/echo/v4/middleware") {
				t.Errorf("%s imports %s; idp's middleware is its own (see .ci/vuln-exceptions.json)", p.ImportPath, imp)
			}
		}
	}
}
