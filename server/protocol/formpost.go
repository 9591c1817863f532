package protocol

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"idp/server/plumbing"
	"idp/templates"
)

// formPost delivers an authorization response with response_mode=form_post
// (OAuth 2.0 Form Post Response Mode): an HTML form aimed at the
// redirect_uri, submitted by one nonce'd script, with a button for browsers
// without JavaScript.
func (h *Handlers) formPost(c echo.Context, action string, v url.Values) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawStdEncoding.EncodeToString(b[:])
	fields := map[string]string{}
	for k := range v {
		fields[k] = v.Get(k)
	}
	csp := "default-src 'none'; style-src 'self'; script-src 'nonce-" + nonce + "'; form-action " +
		"'self' " + plumbing.Origin(action) + "; frame-ancestors 'none'; base-uri 'none'"
	return plumbing.Render(c, http.StatusOK, csp, func(w io.Writer) error {
		return h.site.Templates.FormPost(w, templates.FormPostPage{
			Base:   templates.Base{Title: "Continue", Issuer: h.site.Issuer},
			Action: action, Fields: fields, ScriptNonce: nonce,
		})
	})
}
