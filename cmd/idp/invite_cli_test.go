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

// TestFirstAdminByInvitation: an operator with mail invites the first
// admin before the first serve; serve then creates no user and prints no
// password, and the queued invitation is what it sends.
func TestFirstAdminByInvitation(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "", d.cmd("users", "invite", "--email", "boss@example.com", "--role", "admin")...)
	e := openTestEnv(t, d)
	if err := e.EnsureFirstUser(t.Context()); err != nil {
		t.Fatal(err)
	}
	list := listJSON[userJSON](t, d, "users")
	if len(list) != 1 || list[0].Email != "boss@example.com" || len(list[0].Roles) != 1 || list[0].Roles[0] != "admin" {
		t.Fatalf("users after the first start: %+v (no admin@localhost with a logged password)", list)
	}
	var n int64
	if err := e.DB.Gorm.Raw("SELECT COUNT(*) FROM mail_outbox WHERE recipient = ? AND kind = 'invite'", "boss@example.com").Scan(&n).Error; err != nil || n != 1 {
		t.Fatalf("queued invitations: %d, %v", n, err)
	}
}
