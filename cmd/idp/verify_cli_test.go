package main

import (
	"encoding/json"
	"testing"
)

// users create --email-verified records the address as verified; without
// it the address is unverified and a verification mail waits in the
// outbox for a serving process with --smtp-url.
func TestUsersCreateEmailVerified(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "a long password", d.cmd("users", "create", "--email", "vouched@example.com", "--password-stdin", "--email-verified")...)
	mustRun(t, "a long password", d.cmd("users", "create", "--email", "plain@example.com", "--password-stdin")...)
	var list []struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", d.cmd("users", "list", "--json")...)), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, u := range list {
		got[u.Email] = u.EmailVerified
	}
	if v, ok := got["vouched@example.com"]; !ok || !v {
		t.Errorf("--email-verified: email_verified %v", v)
	}
	if v, ok := got["plain@example.com"]; !ok || v {
		t.Errorf("without --email-verified: email_verified %v", v)
	}
	e := openTestEnv(t, d)
	var kinds []string
	if err := e.DB.Gorm.Raw("SELECT kind FROM mail_outbox WHERE recipient = ? AND state = 'queued'", "plain@example.com").Scan(&kinds).Error; err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 1 || kinds[0] != "email_verify" {
		t.Errorf("queued for the unverified user: %v, want one email_verify", kinds)
	}
	var n int64
	if err := e.DB.Gorm.Raw("SELECT count(*) FROM mail_outbox WHERE recipient = ?", "vouched@example.com").Scan(&n).Error; err != nil || n != 0 {
		t.Errorf("%d messages queued for a vouched address, %v", n, err)
	}
}
