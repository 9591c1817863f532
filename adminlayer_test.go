package idp_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// domainPackages own the state that the admin actions change.
var domainPackages = []string{"idp/users", "idp/clients", "idp/sessions", "idp/tokens", "idp/keys", "idp/audit", "idp/throttle", "idp/upstreams"}

// mutatingPrefixes name the methods of domain packages that change state.
var mutatingPrefixes = []string{"Create", "Delete", "Disable", "Enable", "Set", "Update", "Rotate", "Revoke", "End", "Record", "Purge"}

// adminAdapters are the packages that must change state only through the
// admin layer (idp/admin): the CLI and the admin HTTP package.
var adminAdapters = []string{"idp/cmd/idp", "idp/server/adminhttp"}

// TestAdaptersGoThroughTheAdminLayer type-checks each adapter and fails on
// any call of a mutating method of a domain package, so every admin action
// is written (and audited) once, in idp/admin.
func TestAdaptersGoThroughTheAdminLayer(t *testing.T) {
	exports := exportData(t)
	for _, path := range adminAdapters {
		for _, call := range mutatingCalls(t, path, exports) {
			t.Errorf("%s calls %s directly; go through idp/admin", path, call)
		}
	}
}

// exportData maps every package of the build to its compiled export data.
func exportData(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-deps", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	m := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		m[p.ImportPath] = p.Export
	}
	return m
}

// mutatingCalls type-checks the non-test files of pkg and lists its calls
// of mutating domain methods, as "pkg.Type.Method".
func mutatingCalls(t *testing.T, pkg string, exports map[string]string) []string {
	t.Helper()
	var dir struct {
		Dir     string
		GoFiles []string
	}
	out, err := exec.Command("go", "list", "-json", pkg).Output()
	if err != nil || json.Unmarshal(out, &dir) != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, f := range dir.GoFiles {
		af, err := parser.ParseFile(fset, filepath.Join(dir.Dir, f), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, af)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) { return os.Open(exports[path]) })
	info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}}
	if _, err := (&types.Config{Importer: imp}).Check(pkg, fset, files, info); err != nil {
		t.Fatalf("type-check %s: %v", pkg, err)
	}
	var calls []string
	for sel, s := range info.Selections {
		fn, ok := s.Obj().(*types.Func)
		if !ok || fn.Pkg() == nil || !isDomain(fn.Pkg().Path()) || !isMutating(fn.Name()) {
			continue
		}
		recv := types.TypeString(s.Recv(), func(p *types.Package) string { return p.Name() })
		calls = append(calls, recv+"."+fn.Name()+" at "+fset.Position(sel.Pos()).String())
	}
	return calls
}

func isDomain(path string) bool {
	for _, d := range domainPackages {
		if path == d {
			return true
		}
	}
	return false
}

func isMutating(name string) bool {
	for _, p := range mutatingPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
