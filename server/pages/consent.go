package pages

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/oauth"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
	"idp/users"
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

// pendingFor loads the pending request id, which must still exist, and the
// signed-in user. When nobody is signed in it answers with the redirect to
// the sign-in page for the request and returns a nil user: the caller
// returns err, which is then the redirect's.
func (h *Handlers) pendingFor(c echo.Context, id string) (lc loginContext, sess *sessions.Session, user *users.User, err error) {
	if lc, err = h.loadRequest(c, id); err != nil {
		return lc, nil, nil, err
	}
	if lc.req == nil {
		return lc, nil, nil, plumbing.ErrRequestGone
	}
	if sess, user, err = h.site.CurrentUser(c); err != nil || user == nil {
		if err == nil {
			err = c.Redirect(http.StatusSeeOther, loginURL(lc.req.ID))
		}
		return lc, nil, nil, err
	}
	return lc, sess, user, nil
}

// ConsentPage asks the signed-in user to approve the scopes.
func (h *Handlers) ConsentPage(c echo.Context) error {
	lc, _, user, err := h.pendingFor(c, c.QueryParam("req"))
	if user == nil {
		return err
	}
	scopes := plumbing.GrantableScopes(user, lc.req.Scopes)
	page := templates.ConsentPage{
		Base: h.site.Base(c, "Allow access"), ClientName: plumbing.ClientName(lc.client), ClientID: lc.client.ID,
		RequestID: lc.req.ID, UserEmail: user.Email, Scopes: scopeLines(scopes), Client: plumbing.ClientBrand(lc.client),
	}
	return plumbing.Render(c, http.StatusOK, plumbing.ClientPageCSP(lc.client, lc.req.RedirectURI), func(w io.Writer) error {
		return h.site.Templates.Consent(w, page)
	})
}

// Consent records the user's decision: allow remembers the scopes
// and issues a code; deny answers access_denied.
func (h *Handlers) Consent(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	lc, sess, user, err := h.pendingFor(c, c.FormValue("req"))
	if user == nil {
		return err
	}
	switch c.FormValue("decision") {
	case "allow":
	case "deny":
		h.site.Log.Info("consent denied", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "client", lc.client.ID)
		h.site.RecordAs(c, user.Email, "consent.denied", lc.client.ID, "")
		return h.auth.Denied(c, lc.req.ID)
	default:
		return &plumbing.PageError{Status: http.StatusBadRequest, Heading: "Choose Allow or Deny", Message: "Go back and choose whether to allow access."}
	}
	scopes := plumbing.GrantableScopes(user, lc.req.Scopes)
	if err := h.site.Tokens.GrantConsent(c.Request().Context(), user.ID, lc.client.ID, scopes); err != nil {
		return err
	}
	h.site.Log.Info("consent granted", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "client", lc.client.ID)
	h.site.RecordAs(c, user.Email, "consent.granted", lc.client.ID, "scope="+oauth.JoinScope(scopes))
	return h.auth.Consented(c, lc.req.ID, sess, user)
}
