package main

import (
	"strings"
	"testing"
)

// users invite creates the account without a password and queues the
// invitation for idp serve to send.
func TestUsersInvite(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	id := strings.TrimSpace(mustRun(t, "", d.cmd("users", "invite", "--email", "new@example.com", "--name", "New", "--role", "staff")...))
	if id == "" {
		t.Fatal("users invite printed no id")
	}
	found := false
	for _, u := range listJSON[userJSON](t, d, "users") {
		if u.Email == "new@example.com" && u.ID == id && u.Name == "New" && len(u.Roles) == 1 && u.Roles[0] == "staff" {
			found = true
		}
	}
	if !found {
		t.Fatal("the invited user is not listed")
	}
	e := openTestEnv(t, d)
	var kinds []string
	if err := e.DB.Gorm.Raw("SELECT kind FROM mail_outbox WHERE recipient = ?", "new@example.com").Scan(&kinds).Error; err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 1 || kinds[0] != "invite" {
		t.Fatalf("queued: %v, want one invite", kinds)
	}
	wantError(t, "", []string{"users invite needs --email"}, d.cmd("users", "invite")...)
	wantError(t, "", []string{"already"}, d.cmd("users", "invite", "--email", "NEW@example.com")...)
	wantError(t, "", []string{"invalid email"}, d.cmd("users", "invite", "--email", "not an address")...)
}
