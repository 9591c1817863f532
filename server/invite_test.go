package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"idp/admin"
)

func TestInvitationThroughRealMail(t *testing.T) {
	env, srv := resetEnv(t)
	ctx := context.Background()
	u, err := env.App.Admin.InviteUser(ctx, tester, admin.NewUser{Email: testEmail, Name: "Ada", Roles: []string{"staff"}})
	if err != nil {
		t.Fatal(err)
	}
	// No password works before the invitation is used.
	if s := signInStatus(t, env, testEmail, testPassword); s != http.StatusUnauthorized {
		t.Fatalf("an invited user signed in before choosing a password: %d", s)
	}
	if _, err := env.App.Admin.InviteUser(ctx, tester, admin.NewUser{Email: strings.ToUpper(testEmail)}); !errors.Is(err, admin.ErrConflict) {
		t.Fatalf("inviting a taken address: %v", err)
	}
	if _, err := env.App.Admin.InviteUser(ctx, tester, admin.NewUser{Email: "not an address"}); err == nil {
		t.Fatal("inviting a malformed address succeeded")
	}
	if n := rowCount(t, env, "mail_outbox", ""); n != 1 {
		t.Fatalf("%d outbox rows, want 1 (refused invitations queue nothing)", n)
	}
	env.SendMail(t)
	msgs := srv.To(testEmail)
	if len(msgs) != 1 || msgs[0].Subject != "You are invited: set your password" {
		t.Fatalf("invitation messages: %+v", msgs)
	}
	link, err := msgs[0].Link("/login/invite?token=")
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	_, page := env.Get(t, b, link)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `action="/login/invite"`) {
		t.Fatalf("invitation page: %d", page.Status)
	}
	token := strings.TrimPrefix(link, env.URL+"/login/invite?token=")
	_, weak := env.PostForm(t, b, "/login/invite", url.Values{"csrf_token": {page.CSRF()}, "token": {token},
		"password": {"12345678"}, "confirm": {"12345678"}})
	if weak.Status != http.StatusBadRequest || !strings.Contains(weak.Alert(), "most commonly used") {
		t.Fatalf("a common password: %d %q", weak.Status, weak.Alert())
	}
	_, done := env.PostForm(t, b, "/login/invite", url.Values{"csrf_token": {page.CSRF()}, "token": {token},
		"password": {testPassword}, "confirm": {testPassword}})
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="reset-done"`) || hasSessionCookie(t, env, b) {
		t.Fatalf("accepting: %d %.300s", done.Status, done.Body)
	}
	if !verified(t, env, testEmail) {
		t.Fatal("the invitee's address is not verified after using the link")
	}
	if s := signInStatus(t, env, testEmail, testPassword); s != http.StatusSeeOther {
		t.Fatalf("sign-in with the chosen password: %d", s)
	}
	stored, _ := env.Users.Store().ByID(ctx, u.ID)
	if !stored.HasRole("staff") || stored.Name != "Ada" {
		t.Fatalf("stored invitee %+v", stored)
	}
	// Spent; and a reset link's token is no invitation.
	_, again := env.Get(t, b, link)
	if again.Status != http.StatusBadRequest || !strings.Contains(again.Body, "Ask whoever invited you") {
		t.Fatalf("a used invitation: %d", again.Status)
	}
	if n := rowCount(t, env, "audit_events", "action IN (?, ?) AND target = ?", "user.invited", "user.invitation_accepted", u.ID); n != 2 {
		t.Fatalf("%d invitation audit events, want 2", n)
	}
}

func TestInvitationExpiresAfterSevenDays(t *testing.T) {
	env, srv := resetEnv(t)
	if _, err := env.App.Admin.InviteUser(context.Background(), tester, admin.NewUser{Email: testEmail}); err != nil {
		t.Fatal(err)
	}
	env.SendMail(t)
	link, err := srv.To(testEmail)[0].Link("/login/invite?token=")
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	env.Clock.Advance(6 * 24 * time.Hour)
	if _, page := env.Get(t, b, link); page.Status != http.StatusOK {
		t.Fatalf("a six-day-old invitation: %d", page.Status)
	}
	env.Clock.Advance(24*time.Hour + time.Minute)
	if _, page := env.Get(t, b, link); page.Status != http.StatusBadRequest {
		t.Fatalf("an eight-day-old invitation: %d", page.Status)
	}
	// Its token on the reset page does nothing either.
	if page := choosePassword(t, env, b, strings.Replace(link, "/login/invite", "/login/reset", 1), newPassword); page.Status != http.StatusBadRequest {
		t.Fatalf("an invitation token on the reset page: %d", page.Status)
	}
}

// TestLateInvitationIsDropped: an invitation still queued when the
// account has been taken into use (its address verified) is not sent, so
// it cannot become a second way to set the password.
func TestLateInvitationIsDropped(t *testing.T) {
	env, srv := resetEnv(t)
	ctx := context.Background()
	u, err := env.App.Admin.InviteUser(ctx, tester, admin.NewUser{Email: testEmail})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Users.Store().SetEmailVerified(ctx, u.ID, testEmail); err != nil {
		t.Fatal(err)
	}
	env.SendMail(t)
	if msgs := srv.To(testEmail); len(msgs) != 0 {
		t.Fatalf("a late invitation went out: %+v", msgs)
	}
}
