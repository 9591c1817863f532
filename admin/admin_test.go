package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"idp/admin"
	"idp/app"
	"idp/audit"
	"idp/clients"
	"idp/db/dbtest"
	"idp/keys"
	"idp/server"
	"idp/users"
)

var actor = admin.Actor{Name: "ops@example.com", Via: audit.ViaAPI, IP: "192.0.2.7"}

// newApp wires a provider over a fresh test database, as serve does.
func newApp(t *testing.T) *app.App {
	t.Helper()
	var mk keys.MasterKey
	copy(mk[:], strings.Repeat("k", 32))
	a := app.New(dbtest.Open(t), mk, app.Config{
		Server: server.Config{Issuer: "https://idp.example", AccessTokenTTL: 10 * time.Minute,
			RefreshTokenTTL: time.Hour, JWKSMaxAge: 5 * time.Minute, KeyRotationInterval: 720 * time.Hour},
		Hashing: users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Serving: true,
	})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

// lastEvent returns the newest audit event.
func lastEvent(t *testing.T, a *app.App) admin.Event {
	t.Helper()
	ev, err := a.Admin.Audit(context.Background(), time.Time{}, 1)
	if err != nil || len(ev) != 1 {
		t.Fatalf("audit: %v, %v", ev, err)
	}
	return ev[0]
}

func TestUsers(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	u, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "ada@example.com", Password: "a long password", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if ev := lastEvent(t, a); ev.Action != "user.created" || ev.Target != u.ID || ev.Actor != actor.Name || ev.Via != "api" || ev.IP != actor.IP {
		t.Fatalf("audit of the creation: %+v", ev)
	}
	_, err = a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "ADA@example.com", Password: "a long password"})
	if !errors.Is(err, admin.ErrConflict) || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("taken email: %v", err)
	}
	var invalid *admin.InvalidError
	if _, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "bob@example.com", Password: "short"}); !errors.As(err, &invalid) {
		t.Fatalf("weak password: %v", err)
	}
	if err := a.Admin.SetPassword(ctx, actor, "nobody@example.com", "a long password"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("set password of an unknown user: %v", err)
	}

	// Disabling ends the user's sessions and grants, whichever interface asks.
	tok, _, err := a.Sessions.Start(ctx, u.ID, []string{"pwd"}, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Admin.DisableUser(ctx, actor, admin.UserRef{Email: "ada@example.com"})
	if err != nil || !d.Disabled {
		t.Fatalf("DisableUser: %+v, %v", d, err)
	}
	if s, err := a.Sessions.Lookup(ctx, tok); err == nil && s != nil {
		t.Fatal("the disabled user's session still works")
	}
	if _, err := a.Admin.DisableUser(ctx, actor, admin.UserRef{ID: "no-such-id"}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("disable an unknown id: %v", err)
	}
	list, err := a.Admin.Users(ctx)
	if err != nil || len(list) != 1 || !list[0].Disabled {
		t.Fatalf("Users: %+v, %v", list, err)
	}
	raw, _ := json.Marshal(list[0])
	if strings.Contains(string(raw), "hash") || !strings.Contains(string(raw), `"created_at":"`+list[0].Created.String()+`"`) ||
		!strings.HasSuffix(list[0].Created.String(), "Z") {
		t.Fatalf("user view JSON %s", raw)
	}
}

func TestClients(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	spec := clients.Spec{ID: "notes", RedirectURIs: []string{"https://notes.example/cb"}}
	c, secret, err := a.Admin.CreateClient(ctx, actor, spec)
	if err != nil || secret == "" || c.ID != "notes" {
		t.Fatalf("CreateClient: %+v, %q, %v", c, secret, err)
	}
	if _, _, err := a.Admin.CreateClient(ctx, actor, spec); !errors.Is(err, admin.ErrConflict) {
		t.Fatalf("taken id: %v", err)
	}
	var invalid *admin.InvalidError
	_, _, err = a.Admin.CreateClient(ctx, actor, clients.Spec{ID: "bad", RedirectURIs: []string{"http://evil.example/cb#x"}})
	if !errors.As(err, &invalid) {
		t.Fatalf("bad metadata: %v", err)
	}
	list, _ := a.Admin.Clients(ctx)
	raw, _ := json.Marshal(list)
	// No secret and no hash of one; "client_secret_basic" names a method.
	if len(list) != 1 || strings.Contains(string(raw), secret) || strings.Contains(strings.ToLower(string(raw)), "hash") ||
		strings.Contains(strings.ReplaceAll(string(raw), "client_secret_basic", ""), "ecret") {
		t.Fatalf("client views %s", raw)
	}
	if err := a.Admin.DeleteClient(ctx, actor, "notes"); err != nil {
		t.Fatal(err)
	}
	if ev := lastEvent(t, a); ev.Action != "client.deleted" || ev.Target != "notes" || ev.Actor != actor.Name {
		t.Fatalf("audit of the deletion: %+v", ev)
	}
	if err := a.Admin.DeleteClient(ctx, actor, "notes"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestKeys(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	ks, err := a.Admin.Keys(ctx)
	if err != nil || len(ks.Keys) != 4 || len(ks.Policies) != 1 || ks.Warning != "" {
		t.Fatalf("Keys: %+v, %v", ks, err)
	}
	_, err = a.Admin.RotateKey(ctx, actor, keys.RS256, false)
	var early *admin.TooEarlyError
	safe, _ := a.Admin.SafeAt(ctx, keys.RS256)
	if !errors.As(err, &early) || !early.SafeAt.Equal(safe.Time) || early.KID == "" {
		t.Fatalf("early rotation: %v (safe at %v)", err, safe)
	}
	var invalid *admin.InvalidError
	if _, err := a.Admin.RotateKey(ctx, actor, "HS256", true); !errors.As(err, &invalid) {
		t.Fatalf("HS256: %v", err)
	}
	rot, err := a.Admin.RotateKey(ctx, actor, keys.RS256, true)
	if err != nil || rot.Retired == nil || rot.Retired.NotAfter == nil || rot.Activated.KID == rot.Next.KID {
		t.Fatalf("forced rotation: %+v, %v", rot, err)
	}
	if ev := lastEvent(t, a); ev.Action != "key.rotated" || ev.Actor != actor.Name || !strings.HasSuffix(ev.Detail, "forced") {
		t.Fatalf("audit of the rotation: %+v", ev)
	}
	if _, err := a.Admin.RevokeKey(ctx, actor, "no-such-kid"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, err := a.Admin.RevokeKey(ctx, actor, rot.Retired.KID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin.RevokeKey(ctx, actor, rot.Retired.KID); !errors.Is(err, admin.ErrConflict) {
		t.Fatalf("revoke twice: %v", err)
	}
}

func TestEnableAndAccess(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	u, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "ada@example.com", Password: "a long password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Sessions.Start(ctx, u.ID, []string{"pwd"}, "192.0.2.1", "browser/1"); err != nil {
		t.Fatal(err)
	}
	acc, err := a.Admin.UserAccess(ctx, admin.UserRef{Email: u.Email})
	if err != nil || len(acc.Sessions) != 1 || acc.Sessions[0].IP != "192.0.2.1" || acc.Grants == nil || acc.User.ID != u.ID {
		t.Fatalf("UserAccess: %+v, %v", acc, err)
	}
	raw, _ := json.Marshal(acc)
	if strings.Contains(string(raw), "hash") || strings.Contains(strings.ToLower(string(raw)), "token\"") {
		t.Fatalf("access view leaks a secret field: %s", raw)
	}
	if _, err := a.Admin.DisableUser(ctx, actor, admin.UserRef{ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if acc, _ := a.Admin.UserAccess(ctx, admin.UserRef{ID: u.ID}); len(acc.Sessions) != 0 {
		t.Fatalf("sessions after disabling: %+v", acc.Sessions)
	}
	e, err := a.Admin.EnableUser(ctx, actor, admin.UserRef{Email: u.Email})
	if err != nil || e.Disabled {
		t.Fatalf("EnableUser: %+v, %v", e, err)
	}
	if ev := lastEvent(t, a); ev.Action != "user.enabled" || ev.Target != u.ID || ev.Actor != actor.Name {
		t.Fatalf("audit of the enabling: %+v", ev)
	}
	if _, err := a.Users.Authenticate(ctx, u.Email, "a long password"); err != nil {
		t.Fatalf("sign-in after enabling: %v", err)
	}
	if _, err := a.Admin.EnableUser(ctx, actor, admin.UserRef{Email: "nobody@example.com"}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("enable unknown: %v", err)
	}
	if _, err := a.Admin.UserAccess(ctx, admin.UserRef{ID: "nope"}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("access of unknown: %v", err)
	}
}

func TestUpdateAndUnlock(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	u, err := a.Admin.CreateUser(ctx, actor, admin.NewUser{Email: "ada@example.com", Password: "a long password", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	roles := []string{" admin ", "ops", "admin", ""}
	got, err := a.Admin.UpdateUser(ctx, actor, admin.UserRef{Email: u.Email}, admin.UserUpdate{Roles: &roles})
	if err != nil || got.Name != "Ada" || strings.Join(got.Roles, ",") != "admin,ops" {
		t.Fatalf("UpdateUser roles: %+v, %v", got, err)
	}
	name := "Ada Lovelace"
	got, err = a.Admin.UpdateUser(ctx, actor, admin.UserRef{ID: u.ID}, admin.UserUpdate{Name: &name})
	if err != nil || got.Name != name || strings.Join(got.Roles, ",") != "admin,ops" {
		t.Fatalf("UpdateUser name: %+v, %v", got, err)
	}
	if stored, _ := a.Users.Store().ByID(ctx, u.ID); stored.Name != name || !stored.HasRole("ops") {
		t.Fatalf("stored user %+v", stored)
	}
	if ev := lastEvent(t, a); ev.Action != "user.updated" || ev.Target != u.ID || !strings.Contains(ev.Detail, "roles=admin,ops") {
		t.Fatalf("audit of the update: %+v", ev)
	}
	if _, err := a.Admin.UpdateUser(ctx, actor, admin.UserRef{ID: "nope"}, admin.UserUpdate{Name: &name}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	for range 10 {
		if _, err := a.Throttle.Fail(ctx, u.Email, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if w, _ := a.Throttle.Check(ctx, u.Email, "192.0.2.1"); w == 0 {
		t.Fatal("ten failures did not throttle")
	}
	if n, err := a.Admin.UnlockUser(ctx, actor, admin.UserRef{Email: u.Email}); err != nil || n != 1 {
		t.Fatalf("UnlockUser = %d, %v", n, err)
	}
	if ev := lastEvent(t, a); ev.Action != "user.unlocked" || ev.Actor != actor.Name {
		t.Fatalf("audit of the unlock: %+v", ev)
	}
	if _, err := a.Admin.UnlockUser(ctx, actor, admin.UserRef{Email: "nobody@example.com"}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("unlock unknown: %v", err)
	}
}
