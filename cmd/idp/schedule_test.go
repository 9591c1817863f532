package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"idp/server/servertest"
)

// newTestClock is a clock the test moves; serve and the admin commands of
// one test share it, as processes on one machine share the system clock.
func newTestClock() *servertest.Clock {
	return servertest.NewClock(time.Now().UTC().Truncate(time.Second))
}

// runCLIAt runs idp in-process on clock c.
func runCLIAt(t *testing.T, c *servertest.Clock, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb, now: c.Now})
	return code, out.String(), errb.String()
}

// `idp keys rotate` with no flags follows the running server's max-age:
// with serve at 2 s, a rotation 3 s after the keys were published (2 s +
// the 1 s key cache) is allowed, although the command's old default of 5
// minutes would have refused it.
func TestKeysRotateFollowsShortServerMaxAge(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	clock := newTestClock()
	srv := startServeAt(t, d, clock.Now, "--jwks-max-age", "2s", "--key-rotation-interval", "1h")
	clock.Advance(3 * time.Second)
	code, out, errOut := runCLIAt(t, clock, d.cmd("keys", "rotate")...)
	if code != 0 || strings.Count(out, "is now active") != 2 {
		t.Fatalf("keys rotate 3 s after a 2 s server published its keys: exit %d\n%s%s\nserver logs:\n%s", code, out, errOut, srv.logs)
	}
	// The keys it published wait for the server's max-age, not a default.
	code, out, _ = runCLIAt(t, clock, d.cmd("keys", "list", "--json")...)
	var list []keyJSON
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("keys list --json: exit %d, %v", code, err)
	}
	want := clock.Now().Add(3 * time.Second).Format(timeFormat)
	for _, k := range keysBy(list, "RS256", "next") {
		if k.SignsFrom != want {
			t.Errorf("next key published by keys rotate signs from %s, want %s", k.SignsFrom, want)
		}
	}
	// The table names the running server and its settings, for people.
	_, table, _ := runCLIAt(t, clock, d.cmd("keys", "list")...)
	if !strings.Contains(table, "Running idp serve processes") || !strings.Contains(table, "2 seconds") ||
		!strings.Contains(table, "1 hour") || !strings.Contains(table, "SIGNS-FROM") {
		t.Errorf("keys list table:\n%s", table)
	}
}

// With serve at 1 h, `idp keys rotate` 10 minutes after the keys were
// published is refused with the stored safe time, which keys list shows.
func TestKeysRotateRefusedUnderLongServerMaxAge(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	clock := newTestClock()
	published := clock.Now()
	startServeAt(t, d, clock.Now, "--jwks-max-age", "1h", "--key-rotation-interval", "720h")
	clock.Advance(10 * time.Minute)
	code, out, errOut := runCLIAt(t, clock, d.cmd("keys", "rotate", "--alg", "RS256")...)
	safeAt := published.Add(time.Hour + 5*time.Second).Format(time.RFC3339)
	if code == 0 || out != "" || !strings.Contains(errOut, "rotating before "+safeAt) || !strings.Contains(errOut, "--force") {
		t.Fatalf("keys rotate 10 min after a 1 h server published: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	_, out, _ = runCLIAt(t, clock, d.cmd("keys", "list", "--json")...)
	var list []keyJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if n := keysBy(list, "RS256", "next"); len(n) != 1 || n[0].SignsFrom != published.Add(time.Hour+5*time.Second).Format(timeFormat) {
		t.Fatalf("keys list shows the next key as %+v, want signs_from %s", n, safeAt)
	}
	// At the stored time it goes through.
	clock.Advance(50*time.Minute + 5*time.Second)
	if code, out, errOut := runCLIAt(t, clock, d.cmd("keys", "rotate", "--alg", "RS256")...); code != 0 {
		t.Fatalf("keys rotate at the stored time: exit %d\n%s%s", code, out, errOut)
	}
}

// Config: time-compressed schedules are accepted whenever they are safe.
func TestCompressedScheduleSettings(t *testing.T) {
	if _, err := parseServe("--key-rotation-interval", "6s", "--jwks-max-age", "2s", "--access-token-ttl", "4s"); err != nil {
		t.Errorf("6s / 2s / 4s refused: %v", err)
	}
	if _, err := parseServe("--key-rotation-interval", "3s", "--jwks-max-age", "2s"); err == nil ||
		!strings.Contains(err.Error(), "--key-rotation-interval must be longer than --jwks-max-age plus the 1s") {
		t.Errorf("3s / 2s: %v, want a refusal naming the 1 s propagation", err)
	}
	if _, err := parseServe("--key-rotation-interval", "5m5s", "--jwks-max-age", "5m"); err == nil {
		t.Error("5m5s / 5m accepted: it leaves no time for the 5 s propagation")
	}
	if _, err := parseServe("--access-token-ttl", "1s"); err != nil {
		t.Errorf("--access-token-ttl 1s refused: %v", err)
	}
}

// Two servers on one database with different max-ages (5 s and 60 s): a
// key published by either, or by an admin command, waits for the longer
// one, and keys list warns that they disagree.
func TestServersWithDifferentMaxAges(t *testing.T) {
	parallel(t)
	d := newTestDB(t)
	clock := newTestClock()
	startServeAt(t, d, clock.Now, "--jwks-max-age", "5s", "--key-rotation-interval", "1h")
	startServeAt(t, d, clock.Now, "--jwks-max-age", "60s", "--key-rotation-interval", "1h")
	code, out, errOut := runCLIAt(t, clock, d.cmd("keys", "rotate", "--alg", "ES256", "--force")...)
	if code != 0 {
		t.Fatalf("keys rotate --force: exit %d\n%s%s", code, out, errOut)
	}
	_, out, _ = runCLIAt(t, clock, d.cmd("keys", "list", "--json")...)
	var list []keyJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	want := clock.Now().Add(60*time.Second + 5*time.Second).Format(timeFormat) // 60 s + its 5 s key cache
	if n := keysBy(list, "ES256", "next"); len(n) != 1 || n[0].SignsFrom != want {
		t.Fatalf("next ES256 key %+v, want signs_from %s", n, want)
	}
	code, table, errOut := runCLIAt(t, clock, d.cmd("keys", "list")...)
	if code != 0 || !strings.Contains(errOut, "warning: running processes disagree") || !strings.Contains(table, "1 minute") ||
		!strings.Contains(table, "5 seconds") {
		t.Fatalf("keys list: exit %d\n%s\nstderr: %s", code, table, errOut)
	}
}
