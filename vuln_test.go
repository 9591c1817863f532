package idp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// govulncheck is the pinned scanner; its database comes through the module
// proxy as the golang.org/x/vulndb module (vuln.go.dev is out of reach).
const govulncheck = "golang.org/x/vuln/cmd/govulncheck@v1.9.0"

// vulnException is one reviewed entry of .ci/vuln-exceptions.json.
type vulnException struct {
	ID       string   `json:"id"`
	Module   string   `json:"module"`
	Why      string   `json:"why"`
	Tests    []string `json:"tests"`
	Reviewed string   `json:"reviewed"`
}

// TestKnownVulnerabilities runs govulncheck over idp (with the toolchain
// the build uses: GOTOOLCHAIN) and fails on any vulnerability reachable
// from idp's code that .ci/vuln-exceptions.json does not list, then shows
// the gate works by scanning a scratch module that calls a known-vulnerable
// function. It needs the network to the module proxy and takes minutes, so
// it runs when IDP_GOVULNCHECK=1 (always in .ci/run).
func TestKnownVulnerabilities(t *testing.T) {
	if os.Getenv("IDP_GOVULNCHECK") != "1" {
		t.Skip("set IDP_GOVULNCHECK=1 to scan for known vulnerabilities (.ci/run does)")
	}
	exceptions := loadExceptions(t)
	db := vulnDB(t)
	t.Run("idp", func(t *testing.T) {
		for _, id := range unexcused(reachable(t, ".", db, "./..."), exceptions) {
			t.Errorf("govulncheck: %s is reachable from idp and not in .ci/vuln-exceptions.json (https://pkg.go.dev/vuln/%s)", id, id)
		}
	})
	t.Run("the gate catches a new finding", func(t *testing.T) {
		dir := scratchModule(t)
		got := unexcused(reachable(t, dir, db, "./..."), exceptions)
		if !slices.Contains(got, "GO-2021-0113") {
			t.Fatalf("a module calling golang.org/x/text v0.3.5 language.Parse gave %v, want GO-2021-0113 refused", got)
		}
	})
}

// loadExceptions reads and checks the exceptions file: every entry says
// why, names tests that exist, and was reviewed within 90 days.
func loadExceptions(t *testing.T) map[string]vulnException {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(".ci", "vuln-exceptions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Exceptions []vulnException }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf(".ci/vuln-exceptions.json: %v", err)
	}
	tests := testNames(t)
	out := map[string]vulnException{}
	for _, e := range f.Exceptions {
		reviewed, err := time.Parse("2006-01-02", e.Reviewed)
		switch {
		case e.ID == "" || e.Why == "" || len(e.Tests) == 0:
			t.Errorf("exception %+v: id, why and tests are required", e)
		case err != nil || time.Since(reviewed) > 90*24*time.Hour:
			t.Errorf("exception %s: reviewed %q; review it again (at most 90 days)", e.ID, e.Reviewed)
		}
		for _, name := range e.Tests {
			if !tests[name] {
				t.Errorf("exception %s names test %s, which does not exist", e.ID, name)
			}
		}
		out[e.ID] = e
	}
	return out
}

// testNames lists the Test functions declared in the repository's test
// files.
func testNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") || strings.Contains(path, "node_modules") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range decl.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// vulnDB downloads the advisory database module and returns its OSV folder.
func vulnDB(t *testing.T) string {
	t.Helper()
	version := os.Getenv("IDP_VULNDB_VERSION")
	if version == "" {
		version = "latest"
	}
	cmd := exec.Command("go", "mod", "download", "-json", "golang.org/x/vulndb@"+version)
	cmd.Dir = t.TempDir() // outside idp's module: it is not a dependency
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("download golang.org/x/vulndb: %v", err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("go mod download: %s", out)
	}
	t.Logf("advisory database golang.org/x/vulndb %s", m.Version)
	return filepath.Join(m.Dir, "data", "osv")
}

// reachable runs govulncheck in dir over patterns and returns the ids of
// the vulnerabilities whose vulnerable functions the code can call (a
// finding with a function in its trace; module- or package-level findings
// are information, not exposure).
func reachable(t *testing.T, dir, db string, patterns ...string) []string {
	t.Helper()
	args := append([]string{"run", govulncheck, "-db", "file://" + db, "-format", "json"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("govulncheck in %s: %v\n%s", dir, err, stderr.String())
	}
	seen := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var msg struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Function string `json:"function"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		if f := msg.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			seen[f.OSV] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	t.Logf("reachable in %s: %v", dir, ids)
	return ids
}

// unexcused returns the ids not in exceptions.
func unexcused(ids []string, exceptions map[string]vulnException) []string {
	var out []string
	for _, id := range ids {
		if _, ok := exceptions[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// scratchModule writes a module that pins golang.org/x/text v0.3.5 and
// calls language.Parse, vulnerable to GO-2021-0113 (fixed in v0.3.7).
func scratchModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module scratch\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.5\n")
	write("main.go", "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\n"+
		"func main() { fmt.Println(language.Parse(\"en\")) }\n")
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy in the scratch module: %v\n%s", err, out)
	}
	return dir
}
