package clients

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the package's import rules (doc.go): only store.go
// imports GORM, nothing imports Echo, and no project package but db (and
// the oauth leaf) is used, so clients stays below server and tokens.
func TestImports(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case strings.HasPrefix(path, "gorm.io/") && name != "store.go":
				t.Errorf("%s imports %s; only store.go may import GORM", name, path)
			case strings.Contains(path, "labstack/echo"):
				t.Errorf("%s imports %s; only server may import Echo", name, path)
			case strings.HasPrefix(path, "idp/") && path != "idp/db" && path != "idp/oauth":
				t.Errorf("%s imports %s; clients may import only idp/db and idp/oauth", name, path)
			}
		}
	}
}
