package main

import (
	"strings"
	"testing"
)

func TestConfigSMTPURLAndMailFrom(t *testing.T) {
	parallel(t)
	c, err := parseServe()
	if err != nil || c.SMTPURL != "" || c.MailFrom.Email != "" {
		t.Fatalf("default: mail should be off: %+v, %v", c, err)
	}
	for _, ok := range []struct{ url, from, name, email string }{
		{"log:", "idp@example.com", "", "idp@example.com"},
		{"smtp://relay.example", "Example Login <login@example.com>", "Example Login", "login@example.com"},
		{"smtp://127.0.0.1:25?tls=none", `"Login, Inc." <login@example.com>`, "Login, Inc.", "login@example.com"},
		{"smtps://u:p@mail.example:465", "login@example.com", "", "login@example.com"},
	} {
		c, err := parseServe("--smtp-url", ok.url, "--mail-from", ok.from)
		if err != nil || c.SMTPURL != ok.url || c.MailFrom.Name != ok.name || c.MailFrom.Email != ok.email {
			t.Errorf("--smtp-url %s --mail-from %q: %+v, %v", ok.url, ok.from, c, err)
		}
	}
}

// Not parallel: setEnv swaps the environment of every test.
func TestConfigSMTPURLFromTheEnvironment(t *testing.T) {
	// The environment works too, and a flag beats it.
	setEnv(t, map[string]string{"IDP_SMTP_URL": "smtp://envuser:envpass@env.example", "IDP_MAIL_FROM": "env@example.com"})
	if c, err := parseServe(); err != nil || c.SMTPURL != "smtp://envuser:envpass@env.example" || c.MailFrom.Email != "env@example.com" {
		t.Errorf("from the environment: %+v, %v", c, err)
	}
	if c, err := parseServe("--smtp-url", "log:"); err != nil || c.SMTPURL != "log:" {
		t.Errorf("flag over environment: %+v, %v", c, err)
	}
}

func TestConfigSMTPURLProblemsHideThePassword(t *testing.T) {
	parallel(t)
	for _, bad := range []struct{ url, from, want string }{
		{"http://u:hunter2@relay.example", "a@example.com", "scheme must be smtp, smtps or the word log:"},
		{"smtp://u:hunter2@relay.example?tls=off", "a@example.com", "tls must be none"},
		{"smtp://u:hunter2@relay.example?tls=none", "a@example.com", "in the clear"},
		{"smtp://u:hunter2@relay.example:0", "a@example.com", "port must be 1 to 65535"},
		{"smtps://u:hunter2@relay.example?tls=none", "a@example.com", "contradicts smtps"},
		{"smtp://u:hunter2@relay.example/x", "a@example.com", "want smtp://"},
		{"smtp://u:hunter2@relay.example", "", "--mail-from is required with --smtp-url"},
		{"smtp://u:hunter2@relay.example", "not an address", "--mail-from"},
		{"smtp://u:hunter2@relay.example", "a@example.com\r\nBcc: x@example.com", "--mail-from"},
		{"smtp://u:hunter2@relay.example", "a@example.com, b@example.com", "--mail-from"},
		{"", "a@example.com", "--mail-from is set but --smtp-url is not"},
	} {
		_, err := parseServe("--smtp-url", bad.url, "--mail-from", bad.from)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("--smtp-url %q --mail-from %q: %v, want %q", bad.url, bad.from, err, bad.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the SMTP password: %v", err)
		}
	}
	// Through the CLI: one line, exit non-zero, no password.
	errOut := wantError(t, "", []string{"--smtp-url", "xxxxx"}, "serve", "--smtp-url", "smtp://u:hunter2@h:99999", "--mail-from", "a@example.com")
	if strings.Contains(errOut, "hunter2") {
		t.Errorf("stderr shows the SMTP password: %s", errOut)
	}
}

func TestConfigThemeDir(t *testing.T) {
	parallel(t)
	dir := t.TempDir()
	if c, err := parseServe("--theme-dir", dir); err != nil || c.ThemeDir != dir {
		t.Fatalf("--theme-dir %s: %+v, %v", dir, c, err)
	}
	if c, err := parseServe(); err != nil || c.ThemeDir != "" {
		t.Fatalf("default: %q, %v", c.ThemeDir, err)
	}
	wantError(t, "", []string{"--theme-dir", "is not a folder"}, "serve", "--theme-dir", dir+"/missing")
}
