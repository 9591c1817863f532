package main

import "testing"

// logoutView is the logout part of `clients list --json`.
type logoutView struct {
	ID       string   `json:"client_id"`
	BCL      string   `json:"backchannel_logout_uri"`
	BCLSid   bool     `json:"backchannel_logout_session_required"`
	FCL      string   `json:"frontchannel_logout_uri"`
	FCLSid   bool     `json:"frontchannel_logout_session_required"`
	Redirect []string `json:"redirect_uris"`
}

// TestClientsLogoutFlags: create and update take the back- and
// front-channel logout flags, and refuse a URI the rules refuse.
func TestClientsLogoutFlags(t *testing.T) {
	parallel(t)
	d := migratedDB(t)
	mustRun(t, "", d.cmd("clients", "create", "--id", "rp", "--redirect-uri", "https://rp.example/cb",
		"--backchannel-logout-uri", "https://rp.example/bcl", "--backchannel-logout-session-required")...)
	named := func() logoutView {
		for _, c := range listJSON[logoutView](t, d, "clients") {
			if c.ID == "rp" {
				return c
			}
		}
		t.Fatal("no client rp")
		return logoutView{}
	}
	if c := named(); c.BCL != "https://rp.example/bcl" || !c.BCLSid || c.FCL != "" || c.FCLSid {
		t.Fatalf("created %+v", c)
	}
	mustRun(t, "", d.cmd("clients", "update", "--id", "rp", "--frontchannel-logout-uri", "https://rp.example/fcl",
		"--frontchannel-logout-session-required", "--backchannel-logout-session-required=false")...)
	if c := named(); c.BCL != "https://rp.example/bcl" || c.BCLSid || c.FCL != "https://rp.example/fcl" || !c.FCLSid {
		t.Fatalf("updated %+v", c)
	}
	wantError(t, "", []string{"backchannel_logout_uri", "fragment"},
		d.cmd("clients", "update", "--id", "rp", "--backchannel-logout-uri", "https://rp.example/bcl#x")...)
	wantError(t, "", []string{"frontchannel_logout_uri", "https"},
		d.cmd("clients", "update", "--id", "rp", "--frontchannel-logout-uri", "http://rp.example/fcl")...)
	mustRun(t, "", d.cmd("clients", "update", "--id", "rp", "--backchannel-logout-uri", "")...)
	if c := named(); c.BCL != "" {
		t.Fatalf("cleared %+v", c)
	}
}
