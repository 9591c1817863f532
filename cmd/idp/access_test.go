package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// users enable and users sessions: the CLI side of the admin layer's
// EnableUser and UserAccess.
func TestUsersEnableAndSessions(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "a long password", d.cmd("users", "create", "--email", "ada@example.com", "--password-stdin")...)
	mustRun(t, "", d.cmd("users", "disable", "--email", "ada@example.com")...)
	if out := mustRun(t, "", d.cmd("users", "enable", "--email", "ada@example.com")...); out != "enabled ada@example.com\n" {
		t.Errorf("users enable printed %q", out)
	}
	for _, u := range listJSON[userJSON](t, d, "users") {
		if u.Email == "ada@example.com" && u.Disabled {
			t.Error("still disabled after users enable")
		}
	}
	var acc struct {
		User     userJSON `json:"user"`
		Sessions []any    `json:"sessions"`
		Grants   []any    `json:"grants"`
	}
	out := mustRun(t, "", d.cmd("users", "sessions", "--email", "ada@example.com", "--json")...)
	if err := json.Unmarshal([]byte(out), &acc); err != nil || acc.User.Email != "ada@example.com" || acc.Sessions == nil || acc.Grants == nil {
		t.Fatalf("users sessions --json: %v\n%s", err, out)
	}
	if table := mustRun(t, "", d.cmd("users", "sessions", "--email", "ada@example.com")...); !strings.HasPrefix(table, "KIND") {
		t.Errorf("users sessions table:\n%s", table)
	}
	wantError(t, "", []string{"enable user nobody@example.com", "not found"}, d.cmd("users", "enable", "--email", "nobody@example.com")...)
	wantError(t, "", []string{"sessions of nobody@example.com"}, d.cmd("users", "sessions", "--email", "nobody@example.com")...)
	entries := mustRun(t, "", d.cmd("audit", "list", "--json")...)
	if !strings.Contains(entries, `"action": "user.enabled"`) {
		t.Errorf("audit has no user.enabled:\n%s", entries)
	}
}

// users update and users unlock through the CLI.
func TestUsersUpdateAndUnlock(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "a long password", d.cmd("users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin")...)
	out := mustRun(t, "", d.cmd("users", "update", "--email", "ada@example.com", "--role", "admin", "--role", "ops")...)
	if out != "updated ada@example.com: name \"Ada\", roles admin,ops\n" {
		t.Errorf("users update printed %q", out)
	}
	mustRun(t, "", d.cmd("users", "update", "--email", "ada@example.com", "--name", "Ada Lovelace")...)
	for _, u := range listJSON[userJSON](t, d, "users") {
		if u.Email == "ada@example.com" && (u.Name != "Ada Lovelace" || strings.Join(u.Roles, ",") != "admin,ops") {
			t.Errorf("after update: %+v", u)
		}
	}
	mustRun(t, "", d.cmd("users", "update", "--email", "ada@example.com", "--no-roles")...)
	for _, u := range listJSON[userJSON](t, d, "users") {
		if u.Email == "ada@example.com" && len(u.Roles) != 0 {
			t.Errorf("--no-roles left %v", u.Roles)
		}
	}
	wantError(t, "", []string{"at least one of --name"}, d.cmd("users", "update", "--email", "ada@example.com")...)
	wantError(t, "", []string{"contradict"}, d.cmd("users", "update", "--email", "ada@example.com", "--role", "x", "--no-roles")...)
	wantError(t, "", []string{"update user nobody@example.com"}, d.cmd("users", "update", "--email", "nobody@example.com", "--name", "X")...)
	if out := mustRun(t, "", d.cmd("users", "unlock", "--email", "ada@example.com")...); !strings.HasPrefix(out, "unlocked ada@example.com (0 failure counters") {
		t.Errorf("users unlock printed %q", out)
	}
	wantError(t, "", []string{"unlock user nobody@example.com"}, d.cmd("users", "unlock", "--email", "nobody@example.com")...)
}
