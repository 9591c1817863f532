package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/admin"
	"idp/audit"
	"idp/mail/mailtest"
	"idp/server/servertest"
)

// TestAdminInvitesAndSendsResets: with mail on, the users page invites
// (the invitee gets the link to set a password) and a user's page mails a
// reset link that works; the API does both; every action is audited; a
// disabled user gets no reset. Without mail neither is offered.
func TestAdminInvitesAndSendsResets(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	env := servertest.NewWithMail(t, srv)
	c := &console{env: env, b: env.Browser(t), admin: env.CreateUser(t, adminEmail, adminPassword, "admin")}
	signInDirect(t, env, c.b, adminEmail, adminPassword)
	if p := c.page(t, "/admin/users"); !strings.Contains(p.Body, `action="/admin/users/invite"`) {
		t.Fatal("no invitation form with mail on")
	}
	resp, _ := c.post(t, "/admin/users/invite", url.Values{"email": {"new@example.com"}, "name": {"New"}, "roles": {"staff"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "notice=user-invited") {
		t.Fatalf("invite: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	env.SendMail(t)
	if msgs := srv.To("new@example.com"); len(msgs) != 1 {
		t.Fatalf("%d invitation mails", len(msgs))
	} else if _, err := msgs[0].Link("/login/invite?token="); err != nil {
		t.Fatalf("invitation mail: %v", err)
	}
	if resp, _ := c.post(t, "/admin/users/invite", url.Values{"email": {"new@example.com"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("inviting a taken address: %d", resp.StatusCode)
	}
	if resp, p := c.post(t, "/admin/users/invite", url.Values{"email": {"not an address"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(p.Body, "Not invited") {
		t.Errorf("inviting a bad address: %d", resp.StatusCode)
	}

	ada := env.CreateUser(t, testEmail, testPassword)
	base := "/admin/users/" + ada.ID
	if p := c.page(t, base); !strings.Contains(p.Body, `action="`+base+`/send-reset"`) {
		t.Fatal("no reset button with mail on")
	}
	resp, _ = c.post(t, base+"/send-reset", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "notice=reset-sent") {
		t.Fatalf("send reset: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if signInStatus(t, env, testEmail, testPassword) != http.StatusSeeOther {
		t.Fatal("sending a reset link stopped the current password")
	}
	link := mailedLink(t, env, srv, testEmail)
	if done := choosePassword(t, env, env.Browser(t), link, "a new passphrase from the admin mail"); done.Status != http.StatusOK {
		t.Fatalf("following the admin's reset link: %d", done.Status)
	}
	if signInStatus(t, env, testEmail, "a new passphrase from the admin mail") != http.StatusSeeOther {
		t.Fatal("the new password does not sign in")
	}
	tok := adminToken(t, env, adminEmail, adminPassword, "openid", "idp:admin")
	if status, body, _ := api(t, env, "POST", "/api/admin/users/"+ada.ID+"/send-reset", tok, nil); status != http.StatusAccepted {
		t.Fatalf("API send-reset: %d %v", status, body)
	}
	if status, body, _ := api(t, env, "POST", "/api/admin/users/invite", tok, map[string]any{"email": "api@example.com", "roles": []string{"staff"}}); status != http.StatusCreated || body["email"] != "api@example.com" {
		t.Fatalf("API invite: %d %v", status, body)
	}
	if status, _, _ := api(t, env, "POST", "/api/admin/users/nobody/send-reset", tok, nil); status != http.StatusNotFound {
		t.Errorf("API send-reset for nobody: %d", status)
	}
	bob := env.CreateUser(t, "bob@example.com", testPassword)
	if _, err := env.App.Admin.DisableUser(t.Context(), audit.Actor{Name: "test", Via: audit.ViaCLI}, admin.UserRef{ID: bob.ID}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := api(t, env, "POST", "/api/admin/users/"+bob.ID+"/send-reset", tok, nil); status != http.StatusBadRequest {
		t.Errorf("send-reset for a disabled user: %d", status)
	}
	events, _ := env.Audit.List(t.Context(), time.Time{}, 200)
	kinds := map[string]int{}
	for _, e := range events {
		kinds[e.Action]++
	}
	if kinds["user.invited"] != 2 || kinds["password.reset_sent"] != 2 {
		t.Fatalf("audit %v", kinds)
	}

	plain := newConsole(t)
	u := plain.env.CreateUser(t, "carol@example.com", testPassword)
	if p := plain.page(t, "/admin/users/"+u.ID); strings.Contains(p.Body, "send-reset") {
		t.Error("a reset button without mail")
	}
	if p := plain.page(t, "/admin/users"); strings.Contains(p.Body, "/admin/users/invite") {
		t.Error("an invitation form without mail")
	}
	if resp, _ := plain.post(t, "/admin/users/"+u.ID+"/send-reset", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("send-reset without mail: %d", resp.StatusCode)
	}
}
