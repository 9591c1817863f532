package server_test

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"idp/upstreams"
)

// TestAdminUpstreamsWebClaimMapping: the create and edit forms' claim
// mapping. Create applies the fields it names; an edit replaces the
// whole mapping, so a field left out goes back to the kind's default;
// a mapping that does not parse, or whose roles contradict the roles
// claim, is refused in the service's words with nothing created or
// changed and no audit record.
func TestAdminUpstreamsWebClaimMapping(t *testing.T) {
	t.Parallel()
	c := newConsole(t)
	form := upstreamForm()
	form.Set("claim_mapping", " sub=uid , email=mail,roles=groups")
	if resp, p := c.post(t, "/admin/upstreams", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %q", resp.StatusCode, problem(p))
	}
	want := upstreams.ClaimMapping{Sub: "uid", Email: "mail", RolesClaim: "groups", RolesPrefix: "idp-", RequiredGroup: "idp-staff"}
	if u := storedUpstream(t, c.env, "corp"); u.Claims != want {
		t.Fatalf("created with %+v, want %+v", u.Claims, want)
	}

	const badWords = `claim mapping field "nick" is not one of sub, email, email_verified, name, roles`
	for name, tc := range map[string]struct{ mapping, problem string }{
		"unknown field": {"sub=uid,nick=x", "Not created: " + badWords},
		"roles differ":  {"roles=teams", "Not created: roles=teams in the claim mapping contradicts the roles claim groups"},
	} {
		bad := upstreamForm()
		bad.Set("id", "bad")
		bad.Set("claim_mapping", tc.mapping)
		if resp, p := c.post(t, "/admin/upstreams", bad); resp.StatusCode != http.StatusBadRequest || problem(p) != tc.problem {
			t.Errorf("create, %s: %d %q", name, resp.StatusCode, problem(p))
		}
	}
	if n := countUpstreams(t, c.env); n != 1 {
		t.Fatalf("a refused create made an upstream: %d", n)
	}

	page := "/admin/upstreams/corp"
	edit := upstreamForm()
	edit.Del("id")
	edit.Set("claim_mapping", "name=display,email_verified=verified")
	if resp, p := c.post(t, page, edit); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %q", resp.StatusCode, problem(p))
	}
	want = upstreams.ClaimMapping{Name: "display", EmailVerified: "verified", RolesClaim: "groups", RolesPrefix: "idp-", RequiredGroup: "idp-staff"}
	if u := storedUpstream(t, c.env, "corp"); u.Claims != want {
		t.Fatalf("edited to %+v, want %+v (sub and email back to the default)", u.Claims, want)
	}
	saves := len(upstreamEvents(t, c.env, "upstream.update", "corp"))
	for name, tc := range map[string]struct{ mapping, problem string }{
		"unknown field":   {"sub=uid,nick=x", "Not saved: " + badWords},
		"not FIELD=CLAIM": {"sub", `Not saved: claim mapping "sub" is not FIELD=CLAIM`},
		"given twice":     {"sub=a,sub=b", `Not saved: claim mapping field "sub" is given twice`},
		"roles differ":    {"roles=teams", `Not saved: roles=teams in the claim mapping contradicts the roles claim "groups"`},
	} {
		bad := upstreamForm()
		bad.Del("id")
		bad.Set("claim_mapping", tc.mapping)
		resp, p := c.post(t, page, bad)
		if resp.StatusCode != http.StatusBadRequest || problem(p) != tc.problem {
			t.Errorf("edit, %s: %d %q", name, resp.StatusCode, problem(p))
		}
		if !strings.Contains(p.Body, `name="claim_mapping" type="text" value="`+html.EscapeString(tc.mapping)+`"`) {
			t.Errorf("edit, %s: the refused form lost the typed mapping", name)
		}
	}
	if u := storedUpstream(t, c.env, "corp"); u.Claims != want {
		t.Fatalf("a refused edit changed the mapping to %+v", u.Claims)
	}
	if n := len(upstreamEvents(t, c.env, "upstream.update", "corp")); n != saves {
		t.Fatalf("refused edits were audited: %d saves, want %d", n, saves)
	}
}
