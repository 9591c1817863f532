package main

import (
	"io"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	cases := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond}, // nearest rank: ceil(0.5*2) = 1st
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 76, 4 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
		{ms(hundred...), 0.001, 1 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(tc.sorted), tc.p, got, tc.want)
		}
	}
}

func TestMergeCountsAndRates(t *testing.T) {
	a, b := newRecorder(), newRecorder()
	from := time.Now()
	end := from.Add(2 * time.Second)
	for i, d := range []int{3, 1} {
		begin := from.Add(time.Duration(i) * 100 * time.Millisecond)
		a.record(begin, begin.Add(time.Duration(d)*time.Millisecond), from, end, 2)
	}
	for i, d := range []int{2, 4} {
		begin := from.Add(time.Duration(i) * 100 * time.Millisecond)
		b.record(begin, begin.Add(time.Duration(d)*time.Millisecond), from, end, 2)
	}
	b.record(from.Add(-time.Second), from, from, end, 2) // wholly in the warm-up: not counted
	a.fail(statusFailure(500, []byte(`{"error":"server_error","error_description":"database is locked"}`)))
	b.fail(statusFailure(400, []byte(`{"error":"invalid_grant"}`)))
	b.fail(protocolFailure("state mismatch"))
	res := merge("x", []*recorder{a, b}, 2*time.Second)
	if res.Ops != 4 || res.OpsPerSec != 2 || res.ReqPerSec != 4 {
		t.Errorf("ops %d, %v ops/s, %v req/s", res.Ops, res.OpsPerSec, res.ReqPerSec)
	}
	if res.P50ms != 2 || res.P99ms != 4 || res.Maxms != 4 {
		t.Errorf("p50 %v p99 %v max %v", res.P50ms, res.P99ms, res.Maxms)
	}
	want := map[string]int{"status_500": 1, "status_400": 1, "protocol": 1}
	if res.Errors != 3 || res.FiveXX != 1 || res.Locked != 1 || !reflect.DeepEqual(res.ErrorKinds, want) {
		t.Errorf("errors %d 5xx %d locked %d kinds %v", res.Errors, res.FiveXX, res.Locked, res.ErrorKinds)
	}
}

func TestOverlap(t *testing.T) {
	from := time.Unix(1000, 0)
	end := from.Add(10 * time.Second)
	at := func(s float64) time.Time { return from.Add(time.Duration(s * float64(time.Second))) }
	cases := []struct {
		begin, done float64
		want        float64
	}{
		{1, 2, 1},     // inside
		{-2, -1, 0},   // in the warm-up
		{-1, 1, 0.5},  // straddles the start
		{9, 13, 0.25}, // straddles the end
		{-4, 16, 0.5}, // longer than the window
		{10, 11, 0},   // after
		{5, 5, 1},     // instantaneous, inside
		{10, 10, 0},   // instantaneous, at the end
		{-1e-9, 0, 0}, // ends exactly at the start
	}
	for _, tc := range cases {
		if got := overlap(at(tc.begin), at(tc.done), from, end); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("overlap(%v, %v) = %v, want %v", tc.begin, tc.done, got, tc.want)
		}
	}
	// 64 operations in step, each 18 s long and covering the 10 s window:
	// 64 × 10/18 operations' worth of work in 10 s.
	r := newRecorder()
	for range 64 {
		r.record(at(-2), at(16), from, end, 4)
	}
	res := merge("code", []*recorder{r}, 10*time.Second)
	if want := 64.0 * 10 / 18 / 10; res.OpsPerSec < want-1e-9 || res.OpsPerSec > want+1e-9 || res.ReqPerSec < 4*want-1e-9 {
		t.Errorf("lock-step throughput %v ops/s, %v req/s, want %v", res.OpsPerSec, res.ReqPerSec, want)
	}
}

func TestParseForms(t *testing.T) {
	page := `<!doctype html><html><body>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="c0"><button>Sign out</button></form>
<form class="form" method="post" action="/login?x=1&amp;y=2">
<input type="hidden" name="csrf_token" value="abc&amp;def">
<input value='r-1' name='req' type='HIDDEN'>
<input id="email" name="email" type="email" value="a@b" required>
<input id="password" name="password" type="password">
<input type="checkbox">
<button class="button" type="submit">Sign in</button>
</form>
<form method="post" action="/consent"><input type="hidden" name="csrf_token" value="c2"><input type="hidden" name="req" value="r2">
<button name="decision" value="deny">Deny</button><button name="decision" value="allow">Allow</button></form>
<form action="/search"><input name="q">`
	forms := parseForms([]byte(page))
	if len(forms) != 4 {
		t.Fatalf("got %d forms, want 4: %+v", len(forms), forms)
	}
	login := formWith(forms, "password")
	if login == nil || login.Action != "/login?x=1&y=2" || login.Method != "POST" {
		t.Fatalf("login form %+v", login)
	}
	if want := (url.Values{"csrf_token": {"abc&def"}, "req": {"r-1"}}); !reflect.DeepEqual(login.Hidden, want) {
		t.Errorf("hidden %v, want %v", login.Hidden, want)
	}
	if !reflect.DeepEqual(login.Inputs, []string{"email", "password"}) {
		t.Errorf("inputs %v", login.Inputs)
	}
	consent := &forms[2]
	if consent.Buttons.Get("decision") != "deny" || len(consent.Buttons["decision"]) != 2 || consent.Hidden.Get("req") != "r2" {
		t.Errorf("consent form %+v", consent)
	}
	if f := forms[3]; f.Method != "GET" || !f.hasInput("q") {
		t.Errorf("unclosed form %+v", f)
	}
	if formWith(forms, "nothing") != nil || len(parseForms([]byte("no forms here"))) != 0 {
		t.Error("found a form that is not there")
	}
}

func TestCallbackCode(t *testing.T) {
	const iss = "http://127.0.0.1:8080"
	cases := []struct {
		loc, bad string
	}{
		{"http://127.0.0.1:1/cb?code=c1&state=s1&iss=http%3A%2F%2F127.0.0.1%3A8080", ""},
		{"http://127.0.0.1:1/cb?code=c1&state=s2&iss=http%3A%2F%2F127.0.0.1%3A8080", "state"},
		{"http://127.0.0.1:1/cb?code=c1&state=s1", "iss"},
		{"http://127.0.0.1:1/cb?state=s1&iss=http%3A%2F%2F127.0.0.1%3A8080", "no code"},
		{"http://127.0.0.1:1/cb?error=access_denied&state=s1", "access_denied"},
	}
	for _, tc := range cases {
		u, _ := url.Parse(tc.loc)
		if !isRedirectURI(u, "http://127.0.0.1:1/cb") {
			t.Fatalf("%s not recognised as the redirect URI", tc.loc)
		}
		code, err := callbackCode(u, "s1", iss)
		if tc.bad == "" && (err != nil || code != "c1") {
			t.Errorf("%s: %q %v", tc.loc, code, err)
		}
		if tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%s: want failure about %s, got %v", tc.loc, tc.bad, err)
		}
	}
	for _, other := range []string{"http://127.0.0.1:1/cb2?code=x", "http://127.0.0.1:2/cb?code=x", "https://127.0.0.1:1/cb"} {
		u, _ := url.Parse(other)
		if isRedirectURI(u, "http://127.0.0.1:1/cb") {
			t.Errorf("%s taken for the redirect URI", other)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--scenario", "jwks,mix", "--mix", "code=1,jwks=3", "--cc-client", "a:secret-a",
		"--cc-client", "b:secret:with:colons", "--client-secret", "s", "--password", "p"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Scenarios, []string{"jwks", "mix"}) || cfg.Mix["jwks"] != 3 || cfg.Mix["code"] != 1 ||
		cfg.Concurrency != 64 || cfg.Duration != 10*time.Second || cfg.Issuer != "http://127.0.0.1:8080" {
		t.Errorf("config %+v", cfg)
	}
	if want := []Cred{{"a", "secret-a"}, {"b", "secret:with:colons"}}; !reflect.DeepEqual(cfg.ccClients(), want) {
		t.Errorf("cc clients %v", cfg.ccClients())
	}
	for _, bad := range [][]string{
		{"--scenario", "nope"},
		{"--mix", "code=x", "--scenario", "jwks"},
		{"--mix", "teleport=1", "--scenario", "jwks"},
		{"--mix", "code=0", "--scenario", "jwks"},
		{"--scenario", "code"}, // no password or client secret
		{"--scenario", "jwks", "--issuer", "ftp://x"},
		{"--scenario", "jwks", "--concurrency", "0"},
		{"--cc-client", "nosecret", "--scenario", "jwks"},
		{"--scenario", "jwks", "extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestRatios(t *testing.T) {
	res := []Result{
		{Name: "jwks", Kind: "idp", OpsPerSec: 900, Usage: &Usage{HasServer: true, CPUPerOp: 0.2}},
		{Name: "bare jwks", Kind: "reference", OpsPerSec: 1000, Usage: &Usage{CPUPerOp: 0.1}},
		{Name: "client_credentials/es", Alg: "ES256", OpsPerSec: 300},
		{Name: "client_credentials/rs", Alg: "RS256", OpsPerSec: 700}, {Name: "raw sign RS256", OpsPerSec: 1000},
		{Name: "refresh", OpsPerSec: 3000},
		{Name: "code", OpsPerSec: 10}, {Name: "raw argon2id", OpsPerSec: 20}, {Name: "sso", OpsPerSec: 150},
	}
	got := map[string]Ratio{}
	for _, r := range ratios(res) {
		got[r.Name] = r
	}
	check := func(name string, v float64, pass bool) {
		t.Helper()
		r, ok := got[name]
		if !ok || r.Value != v || r.Pass != pass {
			t.Errorf("%s = %+v (present %v), want %v pass %v", name, r, ok, v, pass)
		}
	}
	check("idp jwks / bare jwks", 0.9, true)
	if q := got["idp jwks / bare jwks"]; q.CPU != 0.5 {
		t.Errorf("CPU-normalized jwks ratio %v, want 0.5 (twice the CPU per request)", q.CPU)
	}
	if q := got["sso / code"]; q.CPU != 0 {
		t.Errorf("CPU-normalized ratio %v without CPU figures", q.CPU)
	}
	check("client_credentials ES256 / bare jwks", 0.3, true)
	check("client_credentials RS256 / raw RS256 signing", 0.7, false)
	check("refresh / 1,200 per s", 2.5, false)
	check("code / raw argon2id (2 threads)", 0.5, false)
	check("sso / code", 15, true)
	if _, ok := got["idp discovery / bare discovery"]; ok {
		t.Error("ratio without its inputs")
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
go_sql_wait_count_total{db_name="idp"} 7
go_sql_wait_duration_seconds_total{db_name="idp"} 0.25
idp_http_requests_total{method="POST",route="/token",status="200"} 100
idp_http_requests_total{method="POST",route="/token",status="500"} 2
idp_http_requests_total{method="GET",route="/authorize",status="503"} 1 1700000000000
malformed{ 3
`
	m := parseMetrics([]byte(text))
	is5xx := func(l string) bool { return strings.Contains(l, `status="5`) }
	if m.sum("process_cpu_seconds_total", nil) != 12.5 || m.sum("go_sql_wait_count_total", nil) != 7 ||
		m.sum("idp_http_requests_total", is5xx) != 3 || m.sum("idp_http_requests_total", nil) != 103 {
		t.Errorf("parsed %+v", m)
	}
	a := usage{at: time.Unix(0, 0), server: true, serverCPU: 1, dbWaits: 10, dbWaitSecs: 1, clientCPU: 2}
	b := usage{at: time.Unix(2, 0), server: true, serverCPU: 3, dbWaits: 30, dbWaitSecs: 2, server5xx: 1, clientCPU: 3}
	u := diff(a, b, 100) // 200 operations in 2 s
	if u.ServerCores != 1 || u.ClientCores != 0.5 || u.ServerCPUPerOp != 10 || u.CPUPerOp != 15 ||
		u.DBWaitsPerOp != 0.1 || u.DBWaitMsPerOp != 5 || u.Server5xx != 1 {
		t.Errorf("usage %+v", u)
	}
}
