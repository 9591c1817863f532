package main

import (
	"bytes"
	"html/template"
	"net/http"
)

// homePage is the one page of the app: signed in or not, with an optional
// notice or error.
type homePage struct {
	User   *user
	Notice string
	Error  string
}

// CSRF is the sign-out form's token.
func (p homePage) CSRF() string {
	if p.User == nil {
		return ""
	}
	return p.User.csrf
}

var pageTemplate = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example web app</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
.button, button { display: inline-block; padding: .5rem 1rem; border: 1px solid #345; border-radius: .3rem;
  background: #345; color: #fff; text-decoration: none; font: inherit; cursor: pointer; }
[role=alert] { color: #900; } [role=status] { color: #060; }
</style>
</head>
<body>
<main>
<h1>Example web app</h1>
{{with .Notice}}<p role="status">{{.}}</p>{{end}}
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
{{with .User}}
<p>Signed in as <strong id="email">{{.Email}}</strong>{{with .Name}} ({{.}}){{end}}.</p>
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{{$.CSRF}}">
<button type="submit">Sign out</button>
</form>
{{else}}
<p><a class="button" href="/login">Sign in</a></p>
{{end}}
<p>Protected API: <a href="/api/me">/api/me</a></p>
</main>
</body>
</html>
`))

// render writes p with the app's security headers.
func (a *app) render(w http.ResponseWriter, status int, p homePage) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		a.log.Error("render", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", a.csp)
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
