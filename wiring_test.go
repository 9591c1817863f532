package idp_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// constructors are the functions that build idp's running parts. Only the
// wiring (idp/app) calls them outside their own packages and tests, so
// serve, the admin commands and the test harnesses cannot drift apart
// (issue: one wiring).
var constructors = map[string][]string{
	"idp/users":       {"NewService"},
	"idp/clients":     {"NewService"},
	"idp/sessions":    {"NewService"},
	"idp/tokens":      {"NewService"},
	"idp/keys":        {"NewManager"},
	"idp/audit":       {"New"},
	"idp/throttle":    {"New"},
	"idp/server":      {"New"},
	"idp/mail":        {"NewService"},
	"idp/selfservice": {"NewService"},
}

func TestOnlyAppWires(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath == "idp/app" || constructors[p.ImportPath] != nil {
			continue
		}
		for _, f := range p.GoFiles {
			for _, call := range constructorCalls(t, filepath.Join(p.Dir, f)) {
				t.Errorf("%s/%s calls %s; only idp/app builds the running parts", p.ImportPath, f, call)
			}
		}
	}
}

// constructorCalls lists the calls in one file of the constructors above,
// resolving import names (renamed imports included).
func constructorCalls(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // local name -> import path
	for _, imp := range f.Imports {
		p := strings.Trim(imp.Path.Value, `"`)
		if constructors[p] == nil {
			continue
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = p
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok || names[id.Name] == "" {
			return true
		}
		for _, fn := range constructors[names[id.Name]] {
			if sel.Sel.Name == fn {
				out = append(out, names[id.Name]+"."+fn)
			}
		}
		return true
	})
	return out
}
