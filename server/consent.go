package server

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/oauth"
	"idp/server/plumbing"
	"idp/templates"
)

// scopeWords describes scopes in plain words on the consent page.
var scopeWords = map[string]string{
	oauth.ScopeOpenID:        "Know who you are (your account identifier)",
	oauth.ScopeProfile:       "See your name",
	oauth.ScopeEmail:         "See your email address",
	oauth.ScopeOfflineAccess: "Stay connected to your account when you are not using it",
	oauth.ScopeAdmin:         "Administer this sign-in service: users, applications and signing keys",
}

func scopeLines(scopes []string) []templates.ScopeLine {
	out := make([]templates.ScopeLine, 0, len(scopes))
	for _, sc := range scopes {
		d, ok := scopeWords[sc]
		if !ok {
			d = "Use the permission \u201c" + sc + "\u201d"
		}
		out = append(out, templates.ScopeLine{Name: sc, Description: d})
	}
	return out
}

// handleConsentPage asks the signed-in user to approve the scopes.
func (s *Server) handleConsentPage(c echo.Context) error {
	lc, err := s.loadRequest(c, c.QueryParam("req"))
	if err != nil {
		return err
	}
	if lc.req == nil {
		return plumbing.ErrRequestGone
	}
	_, user, err := s.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, loginURL(lc.req.ID))
	}
	scopes := plumbing.GrantableScopes(user, lc.req.Scopes)
	page := templates.ConsentPage{
		Base: s.site.Base(c, "Allow access"), ClientName: plumbing.ClientName(lc.client), ClientID: lc.client.ID,
		RequestID: lc.req.ID, UserEmail: user.Email, Scopes: scopeLines(scopes),
	}
	return plumbing.Render(c, http.StatusOK, plumbing.HTMLCSP(lc.req.RedirectURI), func(w io.Writer) error {
		return s.deps.Templates.Consent(w, page)
	})
}

// handleConsent records the user's decision: allow remembers the scopes
// and issues a code; deny answers access_denied.
func (s *Server) handleConsent(c echo.Context) error {
	if err := s.site.CheckCSRF(c); err != nil {
		return err
	}
	lc, err := s.loadRequest(c, c.FormValue("req"))
	if err != nil {
		return err
	}
	if lc.req == nil {
		return plumbing.ErrRequestGone
	}
	sess, user, err := s.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, loginURL(lc.req.ID))
	}
	switch c.FormValue("decision") {
	case "allow":
	case "deny":
		s.site.Log.Info("consent denied", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "client", lc.client.ID)
		s.site.RecordAs(c, user.Email, "consent.denied", lc.client.ID, "")
		return s.protocol.Denied(c, lc.req.ID)
	default:
		return &plumbing.PageError{Status: http.StatusBadRequest, Heading: "Choose Allow or Deny", Message: "Go back and choose whether to allow access."}
	}
	scopes := plumbing.GrantableScopes(user, lc.req.Scopes)
	if err := s.deps.Tokens.GrantConsent(c.Request().Context(), user.ID, lc.client.ID, scopes); err != nil {
		return err
	}
	s.site.Log.Info("consent granted", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "client", lc.client.ID)
	s.site.RecordAs(c, user.Email, "consent.granted", lc.client.ID, "scope="+oauth.JoinScope(scopes))
	return s.protocol.Consented(c, lc.req.ID, sess, user)
}
