package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/templates"
)

// pageError is an error shown to a person as an HTML page rather than to a
// client as JSON: the plain words of ErrorPage.
type pageError struct {
	Status           int
	Heading, Message string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Heading) }

// htmlCSP is the Content-Security-Policy of every page: no script, styles
// only from idp, forms only to idp and the origins in formTargets (Chrome
// applies form-action to the redirect that follows a form submission, so a
// login or consent form must be allowed to land on the client's
// redirect_uri).
func htmlCSP(formTargets ...string) string {
	action := "'self'"
	for _, t := range formTargets {
		if o := origin(t); o != "" {
			action += " " + o
		}
	}
	return "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action " + action +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// origin returns scheme://host of an absolute URL, or "" if it has none
// usable in a CSP source expression.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(u.Host, " ;,'") {
		if err == nil && u.Scheme != "" && u.Host == "" && !strings.ContainsAny(u.Scheme, " ;,'") {
			return u.Scheme + ":" // private-use scheme of a native app
		}
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// render writes a page rendered by fn with the page headers: HTML, never
// cached (pages carry CSRF tokens and personal data), and a strict CSP.
func (s *Server) render(c echo.Context, status int, csp string, fn func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// base fills the fields every page shares.
func (s *Server) base(c echo.Context, title string) templates.Base {
	return templates.Base{Title: title, CSRFToken: s.csrfToken(c), Issuer: s.cfg.Issuer}
}

// renderError shows an error page. It never fails into a blank response:
// if the template itself fails, a plain-text line is written.
func (s *Server) renderError(c echo.Context, e *pageError) {
	err := s.render(c, e.Status, htmlCSP(), func(w io.Writer) error {
		return s.deps.Templates.Error(w, templates.ErrorPage{
			Base:      templates.Base{Title: e.Heading, Issuer: s.cfg.Issuer},
			Status:    e.Status,
			Heading:   e.Heading,
			Message:   e.Message,
			RequestID: requestIDOf(c),
		})
	})
	if err != nil {
		s.log.Error("render error page", "request_id", requestIDOf(c), "error", err.Error())
		_ = c.String(e.Status, e.Heading+"\n")
	}
}

// wantsHTML reports whether a failed request came from a person's browser
// on a page endpoint, to answer with a page instead of JSON.
func wantsHTML(c echo.Context) bool {
	switch p := c.Path(); {
	case p == pathAuthorize || p == pathLogin || p == pathConsent || p == pathEndSession ||
		p == pathLogout || strings.HasPrefix(p, pathAccount) || strings.HasPrefix(p, "/admin"):
		return true
	}
	return strings.Contains(c.Request().Header.Get("Accept"), "text/html") && c.Path() == ""
}

// static serves the stylesheet and other assets embedded in templates.
func (s *Server) handleStatic() echo.HandlerFunc {
	fs := http.StripPrefix("/static/", http.FileServer(http.FS(s.deps.Templates.Static())))
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		fs.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
