package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeRunFile writes results as `idpbench --json` would, with a summary
// line unless summary is false.
func writeRunFile(t *testing.T, name string, ok, summary bool, results ...Result) string {
	t.Helper()
	var b bytes.Buffer
	for _, r := range results {
		writeJSON(&b, "result", r)
	}
	if summary {
		writeJSON(&b, "summary", map[string]any{"ok": ok})
	}
	path := filepath.Join(t.TempDir(), name+".jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCompare(t *testing.T) {
	cc := func(ops float64) Result {
		return Result{Name: "client_credentials/bench-rs", Alg: "RS256", OpsPerSec: ops, ReqPerSec: ops, P50ms: 1, P99ms: 9,
			Usage: &Usage{HasServer: true, ServerCores: 1.5, CPUPerOp: 0.4}}
	}
	refresh := func(ops float64) Result {
		return Result{Name: "refresh", Alg: "RS256", OpsPerSec: ops, Reuse: &ReuseCheck{}}
	}
	idp := writeRunFile(t, "idp", true, true, cc(3000), refresh(1400))
	nodeCC := cc(1000)
	nodeCC.Usage = &Usage{HasServer: true, ServerCores: 1, CPUPerOp: 0.3}
	node := writeRunFile(t, "node", true, true, nodeCC, refresh(1000))
	var out, errOut bytes.Buffer
	code := compareMain([]string{"--rss", "idp=37000:60000", "--rss", "node=80000", "idp=" + idp, "node=" + node}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	text := out.String()
	for _, want := range []string{
		`client_credentials RS256\s+idp\s+3000\.0 .* 3\.00\s+≥ 1\.50 PASS\s+0\.75\s*\n`,
		`refresh RS256\s+idp\s+1400\.0 .* 1\.40\s+≥ 1\.50 MISS`,
		`client_credentials RS256\s+node\s+1000\.0 .* 1\.00\s+1\.00\s*\n`,
		`refresh RS256\s+node .* 1\.00\s+-\s*\n`,
		`idp\s+36\.1\s+58\.6\s+idle < 48 PASS`,
		`node\s+78\.1\s+-`,
		`no errors`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	// A run with errors, or one that did not finish, fails the comparison.
	bad := refresh(900)
	bad.Errors, bad.ErrorKinds, bad.Examples = 2, map[string]int{"status_500": 2}, map[string]string{"status_500": "boom"}
	withErrors := writeRunFile(t, "node", false, true, cc(1000), bad)
	out.Reset()
	if code := compareMain([]string{"idp=" + idp, "node=" + withErrors}, &out, &errOut); code != 1 ||
		!strings.Contains(out.String(), "2 × status_500, e.g. boom") {
		t.Errorf("errors: exit %d\n%s", code, out.String())
	}
	unfinished := writeRunFile(t, "node", true, false, cc(1000))
	errOut.Reset()
	if code := compareMain([]string{"idp=" + idp, "node=" + unfinished}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "no summary") {
		t.Errorf("unfinished run: exit %d, %s", code, errOut.String())
	}
}

func TestCompareUsage(t *testing.T) {
	idp := writeRunFile(t, "idp", true, true, Result{Name: "jwks", OpsPerSec: 1})
	for _, args := range [][]string{
		{"idp=" + idp},
		{"idp=" + idp, "idp=" + idp},
		{"idp=" + idp, "node"},
		{"--rss", "other=1", "idp=" + idp, "node=" + idp},
		{"--rss", "idp=x", "idp=" + idp, "node=" + idp},
		{"--versus", "nobody", "idp=" + idp, "node=" + idp},
		{"idp=" + idp, "node=" + filepath.Join(t.TempDir(), "missing")},
	} {
		var out, errOut bytes.Buffer
		if code := compareMain(args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}

func TestScenarioKey(t *testing.T) {
	for res, want := range map[*Result]string{
		{Name: "client_credentials/bench-rs", Alg: "RS256"}: "client_credentials RS256",
		{Name: "refresh", Alg: "ES256"}:                     "refresh ES256",
		{Name: "jwks"}:                                      "jwks",
	} {
		if got := scenarioKey(*res); got != want {
			t.Errorf("scenarioKey(%+v) = %q, want %q", res, got, want)
		}
	}
}

// TestCompareRounds: several idpbench runs appended to one file are
// rounds; each row is the median round, and an error in any round counts.
func TestCompareRounds(t *testing.T) {
	cc := func(ops float64, errs int) Result {
		return Result{Name: "client_credentials/bench-rs", Alg: "RS256", OpsPerSec: ops, Errors: errs}
	}
	var b bytes.Buffer
	for _, r := range []Result{cc(3300, 0), cc(2700, 1), cc(3000, 0)} {
		writeJSON(&b, "result", r)
		writeJSON(&b, "summary", map[string]any{"ok": r.Errors == 0})
	}
	idp := filepath.Join(t.TempDir(), "idp.jsonl")
	if err := os.WriteFile(idp, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	node := writeRunFile(t, "node", true, true, cc(1000, 0))
	var out, errOut bytes.Buffer
	code := compareMain([]string{"idp=" + idp, "node=" + node}, &out, &errOut)
	text := out.String()
	if code != 1 || !regexp.MustCompile(`idp\s+3000\.0 .*\s1\s.* 3\.00\s+≥ 1\.50 PASS`).MatchString(text) ||
		!strings.Contains(text, "median of 3 rounds") {
		t.Errorf("exit %d, want 1 (an error in one round) and the median round:\n%s", code, text)
	}
}
