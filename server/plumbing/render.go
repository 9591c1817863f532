package plumbing

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/templates"
)

// HTMLCSP is the Content-Security-Policy of every page: scripts and styles
// only from idp's own files, forms only to idp and the origins in formTargets (Chrome
// applies form-action to the redirect that follows a form submission, so a
// login or consent form must be allowed to land on the client's
// redirect_uri).
func HTMLCSP(formTargets ...string) string {
	action := "'self'"
	for _, t := range formTargets {
		if o := Origin(t); o != "" {
			action += " " + o
		}
	}
	// script-src and connect-src 'self': the passkey ceremony is a static
	// file that asks this origin for its challenge; nothing inline runs.
	return "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action " + action +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// Origin returns scheme://host of an absolute URL, or "" if it has none
// usable in a CSP source expression.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(u.Host, " ;,'") {
		if err == nil && u.Scheme != "" && u.Host == "" && !strings.ContainsAny(u.Scheme, " ;,'") {
			return u.Scheme + ":" // private-use scheme of a native app
		}
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Render writes a page rendered by fn with the page headers: HTML, never
// cached (pages carry CSRF tokens and personal data), and a strict CSP.
// Rendering into a buffer first turns a template error into a clean 500,
// never half a page.
func Render(c echo.Context, status int, csp string, fn func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// Base fills the fields every page shares.
func (s *Site) Base(c echo.Context, title string) templates.Base {
	return templates.Base{Title: title, CSRFToken: s.CSRFToken(c), Issuer: s.Issuer}
}

// renderError shows an error page. It never fails into a blank response:
// if the template itself fails, a plain-text line is written.
func (s *Site) renderError(c echo.Context, e *PageError) {
	err := Render(c, e.Status, HTMLCSP(), func(w io.Writer) error {
		return s.Templates.Error(w, templates.ErrorPage{
			Base:      templates.Base{Title: e.Heading, Issuer: s.Issuer},
			Status:    e.Status,
			Heading:   e.Heading,
			Message:   e.Message,
			RequestID: RequestIDOf(c),
		})
	})
	if err != nil {
		s.Log.Error("render error page", "request_id", RequestIDOf(c), "error", err.Error())
		_ = c.String(e.Status, e.Heading+"\n")
	}
}

// wantsHTML reports whether a failed request came from a person's browser
// on a page endpoint, to answer with a page instead of JSON.
func wantsHTML(c echo.Context) bool {
	switch p := c.Path(); {
	case p == PathAuthorize || p == PathLogin || strings.HasPrefix(p, PathLogin+"/") || p == PathConsent || p == PathEndSession ||
		p == PathLogout || strings.HasPrefix(p, PathAccount) || strings.HasPrefix(p, PathAdmin) ||
		p == PathDevice || strings.HasPrefix(p, PathDevice+"/"):
		return true
	}
	return strings.Contains(c.Request().Header.Get("Accept"), "text/html") && c.Path() == ""
}

// SignedOut shows the page every sign-out ends on: the account page's and,
// without a post_logout_redirect_uri, RP-initiated logout's.
func (s *Site) SignedOut(c echo.Context, clientName string) error {
	return s.SignedOutThen(c, clientName, "")
}

// SignedOutThen is SignedOut that, when next is set, offers to continue
// to next (a registered post_logout_redirect_uri) instead of signing in
// again. The page loads the front-channel logout URIs NoteEnding found.
func (s *Site) SignedOutThen(c echo.Context, clientName, next string) error {
	frames := frontChannelOf(c)
	csp := HTMLCSP()
	if next != "" {
		csp = HTMLCSP(next)
	}
	return Render(c, http.StatusOK, withFrames(csp, frames), func(w io.Writer) error {
		return s.Templates.SignedOut(w, templates.SignedOutPage{Base: s.Base(c, "Signed out"), ClientName: clientName,
			FrontChannel: frames, Continue: next})
	})
}

// ClientBrand is the client's logo and links for the sign-in and consent
// pages. The logo was checked at registration (clients.ValidateLogoURI:
// https, or a small data:image URI), which is what makes it safe to hand
// html/template as a URL.
func ClientBrand(c *clients.Client) templates.ClientBrand {
	b := templates.ClientBrand{HomeURI: c.ClientURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI}
	if c.LogoURI != "" && clients.ValidateLogoURI(c.LogoURI) == nil {
		b.Logo = template.URL(c.LogoURI)
	}
	if u, err := url.Parse(c.ClientURI); err == nil {
		b.HomeHost = u.Host
	}
	return b
}

// ClientPageCSP is HTMLCSP for a page that shows c's logo: an https logo's
// origin joins img-src (a data: one is already allowed).
func ClientPageCSP(c *clients.Client, formTargets ...string) string {
	csp := HTMLCSP(formTargets...)
	if c == nil || !strings.HasPrefix(c.LogoURI, "https://") {
		return csp
	}
	if o := Origin(c.LogoURI); o != "" {
		csp = strings.Replace(csp, "img-src 'self' data:", "img-src 'self' data: "+o, 1)
	}
	return csp
}

// ClientName is what users see for a client: its name, else its id.
func ClientName(c *clients.Client) string {
	if c == nil {
		return ""
	}
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}
