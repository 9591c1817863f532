package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"idp/mail"
	"idp/mail/mailtest"
)

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// get serves one GET through a.Server().
func get(t *testing.T, a *App, path string) (int, string) {
	t.Helper()
	srv, err := a.Server()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestThemeDirOverridesPagesStaticAndMail(t *testing.T) {
	ctx := context.Background()
	theme := t.TempDir()
	login, err := os.ReadFile("../templates/login.html")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, theme, map[string]string{
		"login.html":               strings.Replace(string(login), "Sign in to your account", "Welcome to Acme Login", 1),
		"static/style.css":         "body { color: rebeccapurple }",
		"static/logo.svg":          "<svg/>",
		"mail/password_reset.txt":  `{{define "subject"}}Acme: new password{{end}}{{define "text"}}Acme says: {{.Link}}{{end}}`,
		"mail/unrelated-notes.txt": "ignored",
		"not-a-page-of-idp.html":   "ignored",
		"mail/password_reset.html": `{{define "html"}}<p>Acme: <a href="{{.Link}}">reset</a></p>{{end}}`,
	})
	srv := mailtest.Start(t, mailtest.Options{})
	cfg := testConfig(t)
	cfg.ThemeDir = theme
	from, _ := mail.ParseAddress("idp@example.com")
	cfg.Mail = MailConfig{SMTPURL: srv.URL(), From: from}
	a, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, a, "/login"); code != http.StatusOK || !strings.Contains(body, "Welcome to Acme Login") {
		t.Fatalf("/login: %d, the theme's heading missing", code)
	}
	if _, body := get(t, a, "/static/style.css"); body != "body { color: rebeccapurple }" {
		t.Fatalf("style.css not overridden: %.80s", body)
	}
	if code, body := get(t, a, "/static/logo.svg"); code != http.StatusOK || body != "<svg/>" {
		t.Fatalf("logo.svg: %d %q", code, body)
	}
	if code, body := get(t, a, "/static/webauthn.js"); code != http.StatusOK || body == "" {
		t.Fatalf("an embedded static file the theme leaves alone: %d", code)
	}
	if _, err := a.Users.Create(ctx, "ada@example.com", "correct horse battery staple", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.SelfService.RequestReset(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Mail.SendBatch(ctx, 10); err != nil || n != 1 {
		t.Fatalf("SendBatch = %d, %v", n, err)
	}
	m := srv.Messages()[0]
	if m.Subject != "Acme: new password" || !strings.HasPrefix(m.Text, "Acme says: http://localhost:8080/login/reset?token=") || !strings.Contains(m.HTML, "<p>Acme:") {
		t.Fatalf("the theme's mail templates were not used: %q %q %q", m.Subject, m.Text, m.HTML)
	}
}

func TestBrokenThemeStopsServe(t *testing.T) {
	ctx := context.Background()
	login, _ := os.ReadFile("../templates/login.html")
	for name, files := range map[string]map[string]string{
		"page does not parse":   {"login.html": `{{define "main"}}{{if}}{{end}}`},
		"page lacks CSRF":       {"login.html": strings.ReplaceAll(string(login), `name="csrf_token"`, `name="token"`)},
		"page needs a field":    {"error.html": `{{define "title"}}x{{end}}{{define "main"}}{{.NoSuchField}}{{end}}{{template "base" .}}`},
		"mail does not parse":   {"mail/password_reset.txt": `{{define "subject"}}{{.Link`},
		"mail without the link": {"mail/password_reset.html": `{{define "html"}}<p>no link</p>{{end}}`},
		"mail without subject":  {"mail/invite.txt": `{{define "text"}}{{.Link}}{{end}}`},
	} {
		t.Run(name, func(t *testing.T) {
			theme := t.TempDir()
			writeFiles(t, theme, files)
			cfg := testConfig(t)
			cfg.ThemeDir = theme
			a, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			err = a.Start(ctx)
			if err == nil || !strings.Contains(err.Error(), "--theme-dir "+theme) {
				t.Fatalf("Start = %v, want an error naming the theme", err)
			}
			t.Logf("%s: %v", name, err)
		})
	}
}
