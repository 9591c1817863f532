package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"idp/admin"
	"idp/app"
)

// actionsAfter lists the actions recorded after the first n events, oldest first.
func actionsAfter(t *testing.T, a *app.App, n int) []string {
	t.Helper()
	all, err := a.Admin.Audit(context.Background(), time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(all) - n - 1; i >= 0; i-- {
		out = append(out, all[i].Action)
	}
	return out
}

func auditCount(t *testing.T, a *app.App) int {
	t.Helper()
	all, err := a.Admin.Audit(context.Background(), time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

func TestSearchUsers(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	for i := range 7 {
		if _, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: fmt.Sprintf("user%d@example.com", i),
			Password: "a long password", Name: fmt.Sprintf("User %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "100%@example.com", Password: "a long password"}); err != nil {
		t.Fatal(err)
	}
	p, err := a.Admin.SearchUsers(ctx, admin.UserQuery{Q: " USER ", Limit: 3})
	if err != nil || p.Total != 7 || len(p.Users) != 3 || p.Users[0].Email != "user0@example.com" || p.Prev() != -1 || p.Next() != 3 {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	if p.Users[0].Factors == nil {
		t.Error("factors not filled")
	}
	p, err = a.Admin.SearchUsers(ctx, admin.UserQuery{Q: "user", Offset: 6, Limit: 3})
	if err != nil || len(p.Users) != 1 || p.Users[0].Email != "user6@example.com" || p.Next() != -1 || p.Prev() != 3 {
		t.Fatalf("last page: %+v, %v", p, err)
	}
	if p, err := a.Admin.SearchUsers(ctx, admin.UserQuery{Q: "%"}); err != nil || p.Total != 1 || p.Limit != admin.PageSize {
		t.Fatalf("literal %%: %+v, %v", p, err)
	}
	var invalid *admin.InvalidError
	for _, q := range []admin.UserQuery{{Offset: -1}, {Limit: -1}, {Limit: admin.MaxPageSize + 1}, {Q: strings.Repeat("x", 300)}} {
		if _, err := a.Admin.SearchUsers(ctx, q); !errors.As(err, &invalid) {
			t.Errorf("SearchUsers(%+v): %v, want InvalidError", q, err)
		}
	}
}

func TestEndSessionsGrantsAndLock(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	u, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "ada@example.com", Password: "a long password"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "bob@example.com", Password: "a long password"})
	if err != nil {
		t.Fatal(err)
	}
	tok1, s1, _ := a.Sessions.Start(ctx, u.ID, []string{"pwd"}, "192.0.2.1", "one")
	tok2, _, _ := a.Sessions.Start(ctx, u.ID, []string{"pwd"}, "192.0.2.2", "two")
	_, bobs, _ := a.Sessions.Start(ctx, other.ID, []string{"pwd"}, "192.0.2.3", "bob")

	// Another user's session, an unknown one, an unknown user: not found, nothing ends.
	n := auditCount(t, a)
	for _, tc := range []struct {
		ref admin.UserRef
		id  string
	}{{admin.UserRef{ID: u.ID}, bobs.ID}, {admin.UserRef{ID: u.ID}, "nope"}, {admin.UserRef{ID: u.ID}, ""}, {admin.UserRef{ID: "nope"}, s1.ID}} {
		if err := a.Admin.EndSession(ctx, actor, tc.ref, tc.id); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("EndSession(%+v, %q): %v", tc.ref, tc.id, err)
		}
	}
	if acc, _ := a.Admin.UserAccess(ctx, admin.UserRef{ID: other.ID}); len(acc.Sessions) != 1 {
		t.Fatal("a refused EndSession ended bob's session")
	}
	if err := a.Admin.EndSession(ctx, actor, admin.UserRef{ID: u.ID}, s1.ID); err != nil {
		t.Fatal(err)
	}
	if s, err := a.Sessions.Lookup(ctx, tok1); err == nil && s != nil {
		t.Fatal("the ended session still works")
	}
	if s, err := a.Sessions.Lookup(ctx, tok2); err != nil || s == nil {
		t.Fatal("the other session ended too")
	}
	if got := actionsAfter(t, a, n); strings.Join(got, " ") != "session.ended" {
		t.Fatalf("audit of the refusals and the end: %v", got)
	}
	if ev := lastEvent(t, a); ev.Target != u.ID || ev.Actor != actor.Name || !strings.Contains(ev.Detail, s1.ID) {
		t.Fatalf("session.ended event: %+v", ev)
	}
	if err := a.Admin.EndSession(ctx, actor, admin.UserRef{ID: u.ID}, s1.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("ending it twice: %v", err)
	}

	for _, id := range []string{"nope", ""} {
		if err := a.Admin.RevokeGrant(ctx, actor, admin.UserRef{ID: u.ID}, id); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("RevokeGrant(%q): %v", id, err)
		}
	}

	ended, err := a.Admin.EndAccess(ctx, actor, admin.UserRef{Email: u.Email})
	if err != nil || ended.Sessions != 1 || ended.Grants != 0 {
		t.Fatalf("EndAccess: %+v, %v", ended, err)
	}
	if s, err := a.Sessions.Lookup(ctx, tok2); err == nil && s != nil {
		t.Fatal("EndAccess left a session")
	}
	if ev := lastEvent(t, a); ev.Action != "logout.everywhere" || ev.Target != u.ID || !strings.Contains(ev.Detail, "sessions=1") {
		t.Fatalf("logout.everywhere event: %+v", ev)
	}
	if _, err := a.Admin.EndAccess(ctx, actor, admin.UserRef{ID: "nope"}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("EndAccess unknown: %v", err)
	}

	// The lock: none, then throttled, then unlocked.
	if l, err := a.Admin.UserLock(ctx, admin.UserRef{ID: u.ID}); err != nil || l.Locked || l.Failures != 0 {
		t.Fatalf("lock before: %+v, %v", l, err)
	}
	for range 8 {
		if _, err := a.Throttle.Fail(ctx, u.Email, "192.0.2.9"); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := a.Admin.UserLock(ctx, admin.UserRef{ID: u.ID}); err != nil || !l.Locked || l.Failures != 8 || l.Until == nil {
		t.Fatalf("lock after 8 failures: %+v, %v", l, err)
	}
	if _, err := a.Admin.UnlockUser(ctx, actor, admin.UserRef{ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if l, _ := a.Admin.UserLock(ctx, admin.UserRef{ID: u.ID}); l.Locked || l.Failures != 0 {
		t.Fatalf("lock after unlock: %+v", l)
	}
	if _, err := a.Admin.UserLock(ctx, admin.UserRef{ID: "nope"}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("lock of unknown: %v", err)
	}
}

func TestSelfDisableAndSetUserPassword(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	me, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "OPS@example.com", Password: "a long password", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	n := auditCount(t, a)
	if _, err := a.Admin.DisableUser(ctx, actor, admin.UserRef{ID: me.ID}); !errors.Is(err, admin.ErrSelf) {
		t.Fatalf("self-disable: %v", err)
	}
	if l, _ := a.Admin.Users(ctx); l[0].Disabled || auditCount(t, a) != n {
		t.Fatal("a refused self-disable changed something")
	}
	var invalid *admin.InvalidError
	if err := a.Admin.SetUserPassword(ctx, actor, admin.UserRef{ID: me.ID}, "short"); !errors.As(err, &invalid) {
		t.Fatalf("weak password: %v", err)
	}
	if err := a.Admin.SetUserPassword(ctx, actor, admin.UserRef{ID: "nope"}, "another long password"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if auditCount(t, a) != n {
		t.Fatal("refused password changes were audited")
	}
	if err := a.Admin.SetUserPassword(ctx, actor, admin.UserRef{ID: me.ID}, "another long password"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Users.Authenticate(ctx, me.Email, "another long password"); err != nil {
		t.Fatalf("sign-in with the new password: %v", err)
	}
	if ev := lastEvent(t, a); ev.Action != "user.password_set" || ev.Target != me.ID || strings.Contains(ev.Detail, "another") {
		t.Fatalf("audit: %+v", ev)
	}
	f, err := a.Admin.UserFactors(ctx, admin.UserRef{ID: me.ID})
	if err != nil || f.PasskeyList == nil || len(f.PasskeyList) != 0 || f.TOTPConfirmed != nil {
		t.Fatalf("factors of a user without any: %+v, %v", f, err)
	}
}

func TestAuditEventsAndExport(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	other := admin.Actor{Name: "bob@example.com", Via: "web", IP: "192.0.2.8"}
	var ids []string
	for i := range 5 {
		who := actor
		if i%2 == 1 {
			who = other
		}
		u, err := a.Admin.CreateUser(ctx, who, admin.NewUser{Email: fmt.Sprintf("u%d@example.com", i), Password: "a long password"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	if _, err := a.Admin.DisableUser(ctx, other, admin.UserRef{ID: ids[0]}); err != nil {
		t.Fatal(err)
	}
	count := func(q admin.AuditQuery) int {
		t.Helper()
		n := 0
		if err := a.Admin.ExportAudit(ctx, q, func(admin.Event) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(admin.AuditQuery{Actor: "BOB@example.com"}); n != 3 {
		t.Errorf("bob's events: %d, want 3", n)
	}
	if n := count(admin.AuditQuery{Subject: ids[0]}); n != 2 {
		t.Errorf("events about u0: %d, want 2", n)
	}
	if n := count(admin.AuditQuery{Kind: "user.created", Actor: actor.Name}); n != 3 {
		t.Errorf("ops's creations: %d, want 3", n)
	}
	if n := count(admin.AuditQuery{Kind: "user.", Subject: ids[0], Actor: other.Name}); n != 1 {
		t.Errorf("bob about u0: %d, want 1", n)
	}
	// Paging two at a time over bob's and ops's user events, older then newer.
	q := admin.AuditQuery{Kind: "user.", Limit: 2}
	var seen []string
	for {
		p, err := a.Admin.AuditEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			seen = append(seen, e.Action+":"+e.Target)
		}
		if p.Older == "" {
			break
		}
		q.Older = p.Older
	}
	if len(seen) != 6 || seen[0] != "user.disabled:"+ids[0] || seen[5] != "user.created:"+ids[0] {
		t.Fatalf("pages: %v", seen)
	}
	last, _ := a.Admin.AuditEvents(ctx, q)
	back, err := a.Admin.AuditEvents(ctx, admin.AuditQuery{Kind: "user.", Limit: 2, Newer: last.Newer})
	if err != nil || len(back.Events) != 2 || back.Events[0].Target != ids[3] || back.Older == "" || back.Newer == "" {
		t.Fatalf("the page newer than the last: %+v, %v", back, err)
	}
	first, _ := a.Admin.AuditEvents(ctx, admin.AuditQuery{Kind: "user.", Limit: 2, Newer: back.Newer})
	if len(first.Events) != 2 || first.Newer != "" || first.Events[0].Action != "user.disabled" {
		t.Fatalf("the newest page again: %+v", first)
	}
	if p, err := a.Admin.AuditEvents(ctx, admin.AuditQuery{Limit: 1000}); err != nil || len(p.Events) != auditCount(t, a) || p.Older != "" {
		t.Errorf("the largest page: %d events, %v", len(p.Events), err)
	}
	var invalid *admin.InvalidError
	now := time.Now()
	for _, bad := range []admin.AuditQuery{{Older: "garbage"}, {Newer: "2026-01-01T00:00:00Z"}, {Older: last.Newer, Newer: last.Newer},
		{From: now, To: now.Add(-time.Hour)}, {Limit: 1001}, {Limit: -1}} {
		if _, err := a.Admin.AuditEvents(ctx, bad); !errors.As(err, &invalid) {
			t.Errorf("AuditEvents(%+v): %v", bad, err)
		}
	}
	if err := a.Admin.ExportAudit(ctx, admin.AuditQuery{From: now, To: now}, func(admin.Event) error { return nil }); !errors.As(err, &invalid) {
		t.Errorf("export of an empty range: %v", err)
	}
	stop := errors.New("stop")
	if err := a.Admin.ExportAudit(ctx, admin.AuditQuery{}, func(admin.Event) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("export does not stop at the callback's error: %v", err)
	}
}

// The export reads in batches; events across a batch boundary come once
// each, newest first.
func TestExportAcrossBatches(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	for i := range 503 {
		a.Audit.Record(ctx, "bulk.event", fmt.Sprintf("t%03d", i), "")
	}
	var got []string
	if err := a.Admin.ExportAudit(ctx, admin.AuditQuery{Kind: "bulk."}, func(e admin.Event) error {
		got = append(got, e.Target)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 503 {
		t.Fatalf("exported %d events, want 503", len(got))
	}
	for i, target := range got {
		if want := fmt.Sprintf("t%03d", 502-i); target != want {
			t.Fatalf("event %d is %s, want %s", i, target, want)
		}
	}
}

// Roles are short words and a name has no control characters; an admin
// cannot take the admin role from themselves. A refused update changes
// nothing and records nothing.
func TestUpdateUserRefusesBadProfiles(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	me, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: actor.Name, Password: "a long password", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "ada@example.com", Password: "a long password", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	n := auditCount(t, a)
	many := make([]string, 33)
	for i := range many {
		many[i] = fmt.Sprintf("r%d", i)
	}
	str := func(s string) *string { return &s }
	roles := func(r ...string) *[]string { return &r }
	var invalid *admin.InvalidError
	for _, tc := range []struct {
		name string
		ref  admin.UserRef
		up   admin.UserUpdate
		want string
	}{
		{"space in a role", admin.UserRef{ID: u.ID}, admin.UserUpdate{Roles: roles("bad role")}, `role "bad role" must be`},
		{"markup in a role", admin.UserRef{ID: u.ID}, admin.UserUpdate{Roles: roles("<b>")}, `role "<b>" must be`},
		{"long role", admin.UserRef{ID: u.ID}, admin.UserUpdate{Roles: roles(strings.Repeat("r", 65))}, "must be up to 64"},
		{"too many roles", admin.UserRef{ID: u.ID}, admin.UserUpdate{Roles: &many}, "at most 32 roles"},
		{"control character", admin.UserRef{ID: u.ID}, admin.UserUpdate{Name: str("Ada\x00")}, "control character"},
		{"long name", admin.UserRef{ID: u.ID}, admin.UserUpdate{Name: str(strings.Repeat("é", 201))}, "longer than 200"},
		{"own admin role", admin.UserRef{ID: me.ID}, admin.UserUpdate{Roles: roles("ops")}, "your own account"},
	} {
		_, err := a.Admin.UpdateUser(ctx, actor, tc.ref, tc.up)
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want InvalidError with %q", tc.name, err, tc.want)
		}
	}
	if got, _ := a.Users.Store().ByID(ctx, u.ID); got.Name != "Ada" || len(got.Roles) != 0 {
		t.Errorf("refused updates changed %+v", got)
	}
	if auditCount(t, a) != n {
		t.Error("refused updates were audited")
	}
	// Keeping one's own admin role while adding another is fine.
	if _, err := a.Admin.UpdateUser(ctx, actor, admin.UserRef{ID: me.ID}, admin.UserUpdate{Roles: roles("admin", "ops")}); err != nil {
		t.Fatal(err)
	}
}
