package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"idp/admin"
	"idp/audit"
	"idp/server/servertest"
)

// seedAudit records a known set of events: alternating actors and
// subjects, one a second apart from the clock's now, and returns the
// first event's time.
func seedAudit(t *testing.T, env *servertest.Env) time.Time {
	t.Helper()
	start := env.Clock.Now().Add(time.Hour).Truncate(time.Second)
	env.Clock.Advance(time.Hour)
	for i := range 30 {
		who := audit.Actor{Name: "ops@example.com", Via: audit.ViaCLI}
		if i%3 == 0 {
			who = audit.Actor{Name: "Bob@Example.com", Via: audit.ViaWeb, IP: "192.0.2.3"}
		}
		action := "user.updated"
		if i%2 == 0 {
			action = "client.created"
		}
		env.Audit.Record(audit.WithActor(context.Background(), who), action, fmt.Sprintf("s%d", i%5), fmt.Sprintf("n=%02d", i))
		env.Clock.Advance(time.Second)
	}
	return start
}

var auditRowRE = regexp.MustCompile(`<td class="break muted">(n=\d\d)</td>`)

func auditRows(p *servertest.Page) []string {
	var out []string
	for _, m := range auditRowRE.FindAllStringSubmatch(p.Body, -1) {
		out = append(out, m[1])
	}
	return out
}

// want lists the seeded events a filter selects, newest first.
func wantSeeded(keep func(i int) bool) []string {
	var out []string
	for i := 29; i >= 0; i-- {
		if keep(i) {
			out = append(out, fmt.Sprintf("n=%02d", i))
		}
	}
	return out
}

var hrefRE = regexp.MustCompile(`href="(/admin/audit[^"]*)"[^>]*>(Older events|Newer events|Export JSON lines)<`)

func links(p *servertest.Page) map[string]string {
	out := map[string]string{}
	for _, m := range hrefRE.FindAllStringSubmatch(p.Body, -1) {
		out[m[2]] = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	return out
}

func TestAdminConsoleAuditFilters(t *testing.T) {
	c := newConsole(t)
	start := seedAudit(t, c.env)
	from := start.Add(10 * time.Second).UTC().Format("2006-01-02T15:04:05")
	to := start.Add(20 * time.Second).UTC().Format("2006-01-02T15:04:05")
	for _, tc := range []struct {
		name  string
		query url.Values
		keep  func(i int) bool
	}{
		{"actor, any case", url.Values{"actor": {"bob@example.COM"}}, func(i int) bool { return i%3 == 0 }},
		{"subject", url.Values{"subject": {"s2"}}, func(i int) bool { return i%5 == 2 }},
		{"kind prefix", url.Values{"kind": {"client."}}, func(i int) bool { return i%2 == 0 }},
		{"time range", url.Values{"from": {from}, "to": {to}}, func(i int) bool { return i >= 10 && i < 20 }},
		{"actor and kind", url.Values{"actor": {"ops@example.com"}, "kind": {"user.updated"}}, func(i int) bool { return i%3 != 0 && i%2 == 1 }},
		{"all four", url.Values{"actor": {"bob@example.com"}, "subject": {"s0"}, "kind": {"client"}, "from": {from}},
			func(i int) bool { return i%3 == 0 && i%5 == 0 && i%2 == 0 && i >= 10 }},
		{"nothing", url.Values{"actor": {"nobody"}}, func(int) bool { return false }},
	} {
		p := c.page(t, "/admin/audit?"+tc.query.Encode())
		got, want := strings.Join(auditRows(p), " "), strings.Join(wantSeeded(tc.keep), " ")
		if got != want {
			t.Errorf("%s: %q, want %q", tc.name, got, want)
		}
		if want == "" && !strings.Contains(p.Body, "No events match this filter.") {
			t.Errorf("%s: no empty message", tc.name)
		}
		// The export holds the same events, one JSON object a line.
		exp := links(p)["Export JSON lines"]
		if want == "" {
			if exp != "" {
				t.Errorf("%s: export link with nothing to export", tc.name)
			}
			continue
		}
		lines := exportLines(t, c.env, c.b, exp, "")
		var ns []string
		for _, e := range lines {
			ns = append(ns, e.Detail)
			if !strings.EqualFold(e.Actor, tc.query.Get("actor")) && tc.query.Get("actor") != "" {
				t.Errorf("%s: exported event of %s", tc.name, e.Actor)
			}
		}
		if got := strings.Join(ns, " "); got != want {
			t.Errorf("%s export: %q, want %q", tc.name, got, want)
		}
	}
	// The form keeps what was asked.
	p := c.page(t, "/admin/audit?actor=bob%40example.com&kind=client.&from="+from)
	for _, want := range []string{`value="bob@example.com"`, `value="client."`, `value="` + from + `"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("filter form lacks %s", want)
		}
	}
	// Bad filters: a clear message, no events, no export.
	for _, q := range []string{"from=yesterday", "from=" + to + "&to=" + from, "older=garbage", "limit=x"} {
		resp, p := c.env.Get(t, c.b, "/admin/audit?"+q)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Not filtered: ") || len(auditRows(p)) != 0 {
			t.Errorf("?%s: %d", q, resp.StatusCode)
		}
		if resp, _ := c.env.Get(t, c.b, "/admin/audit/export?"+q); resp.StatusCode != http.StatusBadRequest &&
			!strings.HasPrefix(q, "older") && !strings.HasPrefix(q, "limit") {
			t.Errorf("export ?%s: %d", q, resp.StatusCode)
		}
	}
}

func TestAdminConsoleAuditPaging(t *testing.T) {
	c := newConsole(t)
	for i := range 230 {
		c.env.Audit.Record(context.Background(), "bulk.event", "t", fmt.Sprintf("n=%03d", i))
	}
	// Same instant for every event: pages must still neither repeat nor skip.
	rowsRE := regexp.MustCompile(`<td class="break muted">(n=\d{3})</td>`)
	rows := func(p *servertest.Page) []string {
		var out []string
		for _, m := range rowsRE.FindAllStringSubmatch(p.Body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	var all []string
	var pages []*servertest.Page
	next := "/admin/audit?kind=bulk."
	for next != "" {
		p := c.page(t, next)
		pages = append(pages, p)
		all = append(all, rows(p)...)
		next = links(p)["Older events"]
		if len(pages) > 5 {
			t.Fatal("too many pages")
		}
	}
	if len(pages) != 3 || len(all) != 230 || all[0] != "n=229" || all[229] != "n=000" {
		t.Fatalf("%d pages, %d rows (%v … %v)", len(pages), len(all), all[:1], all[len(all)-1:])
	}
	for i := range all {
		if want := fmt.Sprintf("n=%03d", 229-i); all[i] != want {
			t.Fatalf("row %d is %s, want %s", i, all[i], want)
		}
	}
	if _, ok := links(pages[0])["Newer events"]; ok {
		t.Error("the first page links newer events")
	}
	// Back from the last page: the middle page again.
	back := c.page(t, links(pages[2])["Newer events"])
	if strings.Join(rows(back), " ") != strings.Join(rows(pages[1]), " ") {
		t.Error("Newer events from the last page is not the middle page")
	}
	if !strings.Contains(links(pages[1])["Older events"], "kind=bulk.") {
		t.Error("paging links drop the filter")
	}
}

// exportLines fetches an export and decodes it line by line.
func exportLines(t *testing.T, env *servertest.Env, b *http.Client, path, token string) []admin.Event {
	t.Helper()
	req, _ := http.NewRequest("GET", env.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if token == "" && !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("the console's export is not a download: %q", resp.Header.Get("Content-Disposition"))
	}
	var out []admin.Event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e admin.Event
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Action == "" {
			t.Fatalf("line %d of %s is not one event: %q (%v)", len(out)+1, path, sc.Text(), err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAdminAPIConsoleRoutes(t *testing.T) {
	env := servertest.New(t)
	env.CreateUser(t, adminEmail, adminPassword, "admin")
	ann := env.CreateUser(t, testEmail, testPassword)
	for _, e := range []string{"100%@example.com", "a_b@example.com", "axb@example.com"} {
		env.CreateUser(t, e, testPassword)
	}
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	rpTok := adminToken(t, env, adminEmail, adminPassword, "openid")
	userTok := adminToken(t, env, testEmail, testPassword, "openid", "idp:admin")
	ctx := context.Background()

	routes := []struct{ method, path string }{
		{"GET", "/api/admin/users?q=a"}, {"GET", "/api/admin/users/x/lock"}, {"POST", "/api/admin/users/x/password"},
		{"POST", "/api/admin/users/x/sessions/y/end"}, {"POST", "/api/admin/users/x/grants/y/revoke"},
		{"POST", "/api/admin/users/x/sign-out"}, {"GET", "/api/admin/audit?format=jsonl"},
	}
	for _, r := range routes {
		for _, tc := range []struct {
			name, token string
			status      int
		}{{"anonymous", "", 401}, {"rp token", rpTok, 403}, {"non-admin", userTok, 403}} {
			if status, body, _ := api(t, env, r.method, r.path, tc.token, map[string]any{"password": "a new long password"}); status != tc.status {
				t.Errorf("%s %s as %s: %d %v, want %d", r.method, r.path, tc.name, status, body, tc.status)
			}
		}
	}

	// Search and paging, with the old shape kept.
	status, body, _ := api(t, env, "GET", "/api/admin/users?q=%25", tok, nil)
	if us, _ := body["users"].([]any); status != 200 || len(us) != 1 || us[0].(map[string]any)["email"] != "100%@example.com" || body["total"] != 1.0 {
		t.Fatalf("q=%%: %d %v", status, body)
	}
	status, body, _ = api(t, env, "GET", "/api/admin/users?q=_", tok, nil)
	if us, _ := body["users"].([]any); status != 200 || len(us) != 1 {
		t.Fatalf("q=_: %d %v", status, body)
	}
	status, body, _ = api(t, env, "GET", "/api/admin/users?limit=2", tok, nil)
	if us, _ := body["users"].([]any); status != 200 || len(us) != 2 || body["total"] != 5.0 || body["next_offset"] != 2.0 {
		t.Fatalf("limit=2: %d %v", status, body)
	}
	status, body, _ = api(t, env, "GET", "/api/admin/users?limit=2&offset=4", tok, nil)
	if us, _ := body["users"].([]any); status != 200 || len(us) != 1 || body["next_offset"] != nil {
		t.Fatalf("last page: %d %v", status, body)
	}
	for _, bad := range []string{"?limit=0x", "?offset=-1", "?limit=501", "?offset=x"} {
		if status, _, _ := api(t, env, "GET", "/api/admin/users"+bad, tok, nil); status != http.StatusBadRequest {
			t.Errorf("users%s: %d, want 400", bad, status)
		}
	}

	// Lock, password, sessions, sign-out.
	for range 8 {
		if _, err := env.App.Throttle.Fail(ctx, testEmail, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	status, body, _ = api(t, env, "GET", "/api/admin/users/"+ann.ID+"/lock", tok, nil)
	if status != 200 || body["locked"] != true || body["failures"] != 8.0 || body["locked_until"] == nil {
		t.Fatalf("lock: %d %v", status, body)
	}
	if status, _, _ := api(t, env, "POST", "/api/admin/users/"+ann.ID+"/password", tok, map[string]any{"password": "short"}); status != 400 {
		t.Errorf("weak password: %d", status)
	}
	if status, _, _ := api(t, env, "POST", "/api/admin/users/"+ann.ID+"/password", tok, map[string]any{"pw": "a new long password"}); status != 400 {
		t.Errorf("unknown field: %d", status)
	}
	if status, _, _ := api(t, env, "POST", "/api/admin/users/"+ann.ID+"/password", tok, map[string]any{"password": "a new long password"}); status != 204 {
		t.Errorf("set password: %d", status)
	}
	if _, err := env.Users.Authenticate(ctx, testEmail, "a new long password"); err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	sid := signInSession(t, env, b, ann.ID, testEmail, "a new long password")
	for _, p := range []string{"/api/admin/users/nope/sessions/" + sid + "/end", "/api/admin/users/" + ann.ID + "/sessions/nope/end",
		"/api/admin/users/" + ann.ID + "/grants/nope/revoke", "/api/admin/users/nope/sign-out", "/api/admin/users/nope/lock",
		"/api/admin/users/nope/password"} {
		method := "POST"
		if strings.HasSuffix(p, "/lock") {
			method = "GET"
		}
		if status, body, _ := api(t, env, method, p, tok, map[string]any{"password": "a new long password"}); status != 404 || body["error"] != "not_found" {
			t.Errorf("%s %s: %d %v", method, p, status, body)
		}
	}
	if status, _, _ := api(t, env, "POST", "/api/admin/users/"+ann.ID+"/sessions/"+sid+"/end", tok, nil); status != 204 {
		t.Fatalf("end session: %d", status)
	}
	if resp, _ := env.Get(t, b, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Error("the session ended through the API still works")
	}
	status, body, _ = api(t, env, "POST", "/api/admin/users/"+ann.ID+"/sign-out", tok, nil)
	if status != 200 || body["sessions"] == nil {
		t.Fatalf("sign-out: %d %v", status, body)
	}
	// Self-disable through the API is refused too.
	root, _ := env.Users.Store().ByEmail(ctx, adminEmail)
	if status, _, _ := api(t, env, "POST", "/api/admin/users/"+root.ID+"/disable", tok, nil); status != 400 {
		t.Errorf("self-disable through the API: %d", status)
	}

	// The audit filters and the JSON lines export.
	status, body, _ = api(t, env, "GET", "/api/admin/audit?kind=session.&subject="+ann.ID, tok, nil)
	if evs, _ := body["events"].([]any); status != 200 || len(evs) != 1 {
		t.Fatalf("audit filter: %d %v", status, body)
	}
	lines := exportLines(t, env, http.DefaultClient, "/api/admin/audit?format=jsonl&actor="+url.QueryEscape(adminEmail)+"&kind=user.", tok)
	var got []string
	for _, e := range lines {
		if e.Actor != adminEmail || !strings.HasPrefix(e.Action, "user.") || e.Via != "api" {
			t.Errorf("exported %+v", e)
		}
		got = append(got, e.Action)
	}
	if len(got) != 1 || got[0] != "user.password_set" {
		t.Errorf("exported %v, want the one user.password_set", got)
	}
	status, body, _ = api(t, env, "GET", "/api/admin/audit?limit=1", tok, nil)
	if evs, _ := body["events"].([]any); status != 200 || len(evs) != 1 || body["older"] == nil {
		t.Fatalf("limit=1: %d %v", status, body)
	}
	older := body["older"].(string)
	status, body, _ = api(t, env, "GET", "/api/admin/audit?limit=1&older="+url.QueryEscape(older), tok, nil)
	if evs, _ := body["events"].([]any); status != 200 || len(evs) != 1 || body["newer"] == nil {
		t.Fatalf("older page: %d %v", status, body)
	}
	for _, bad := range []string{"?format=xml", "?from=yesterday", "?older=x", "?limit=5000", "?format=jsonl&from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z"} {
		if status, body, _ := api(t, env, "GET", "/api/admin/audit"+bad, tok, nil); status != 400 || body["error"] != "invalid_request" {
			t.Errorf("audit%s: %d %v", bad, status, body)
		}
	}
}
