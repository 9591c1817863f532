package adminhttp

import (
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/audit"
	"idp/mfa"
	"idp/server/plumbing"
	"idp/templates"
	"idp/users"
)

// Config is what the admin side needs beyond the shared site: the serving
// policy the keys page states and lays its timeline out by.
type Config struct {
	// JWKSMaxAge is this server's JWKS max-age; the keys page shows the
	// longest of the running servers'.
	JWKSMaxAge time.Duration
	// KeyRotationInterval is shown on the keys page and drives its
	// timeline.
	KeyRotationInterval time.Duration
	// Registration is the registration endpoint's mode (token, open or
	// closed), shown beside the registration-token form.
	Registration string
	// MailEnabled offers the invitation form and "Send a password reset":
	// this process sends mail (--smtp-url).
	MailEnabled bool
}

// Handlers serves the admin web pages (/admin, a signed-in admin's
// browser) and the admin API (/api/admin, an admin's bearer token).
type Handlers struct {
	site  *plumbing.Site
	cfg   Config
	admin *admin.Service
}

// New returns the admin handlers of site, adapters over the admin
// actions adm (the same ones the CLI runs).
func New(site *plumbing.Site, cfg Config, adm *admin.Service) *Handlers {
	return &Handlers{site: site, cfg: cfg, admin: adm}
}

// actor is who acts in this request, as RequireAdmin or RequireAdminToken
// put it into the context.
func actor(c echo.Context) admin.Actor { return audit.ActorFrom(c.Request().Context()) }

const (
	ctxAdmin   = "admin_user"
	ctxSession = "admin_session" // the id of the admin's own session
)

// RequireAdmin guards the /admin pages: signed-in users with role admin.
// Anonymous browsers are sent to sign in; everyone else gets a 403 page.
func (h *Handlers) RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, user, err := h.site.CurrentUser(c)
		if err != nil {
			return err
		}
		if user == nil {
			return c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
		}
		if !user.HasRole("admin") {
			return &plumbing.PageError{Status: http.StatusForbidden, Heading: "Administrators only",
				Message: "Your account cannot open the administration pages."}
		}
		// A role that demands a second factor opens the admin side only to
		// a session that used one: prove it (or set one up) first.
		if mfa.RoleDemands(h.site.MFARequiredRoles, user.Roles) && mfa.Assurance(sess.AMR) < mfa.LevelMFA {
			if c.Request().Method != http.MethodGet {
				return &plumbing.PageError{Status: http.StatusForbidden, Heading: "Confirm it's you first",
					Message: "The administration pages need a sign-in with a second factor. Open /admin again to confirm."}
			}
			return c.Redirect(http.StatusSeeOther, plumbing.PathLoginMFA+"?next="+url.QueryEscape(c.Request().URL.Path))
		}
		if c.Request().Method == http.MethodPost {
			if err := h.site.CheckCSRF(c); err != nil {
				return err
			}
		}
		h.site.ActAs(c, user.Email, audit.ViaWeb)
		c.Set(ctxAdmin, user)
		c.Set(ctxSession, sess.ID)
		return next(c)
	}
}

func adminOf(c echo.Context) *users.User {
	u, _ := c.Get(ctxAdmin).(*users.User)
	return u
}

// adminBase fills the shared admin page fields.
func (h *Handlers) adminBase(c echo.Context, section, title string) templates.AdminBase {
	b := templates.AdminBase{Base: h.site.Base(c, title), Section: section, AdminEmail: adminOf(c).Email,
		Notice: adminNotice(c.QueryParam("notice"))}
	if f, err := h.site.MFA.Of(c.Request().Context(), adminOf(c).ID); err == nil && !f.Any() {
		b.NoSecondFactor = true
	}
	return b
}

// adminNotices maps the fixed notice codes of admin redirects to words, so
// no text from the URL is ever shown.
var adminNotices = map[string]string{
	"rotated":         "The key was rotated. Relying services see the new next key within the JWKS max-age.",
	"revoked":         "The key was revoked and left the JWKS.",
	"user-created":    "The user was created.",
	"user-disabled":   "The user was disabled; their sessions and grants were ended.",
	"user-enabled":    "The user was enabled and may sign in again.",
	"user-updated":    "The profile was saved. Tokens already issued keep their roles until they expire.",
	"user-unlocked":   "The account was unlocked: its failed sign-ins are forgotten.",
	"password-set":    "The new password was set.",
	"session-ended":   "The session was ended.",
	"session-gone":    "That session had already ended.",
	"grant-revoked":   "The grant was revoked.",
	"grant-gone":      "That grant had already ended.",
	"signed-out":      "Every session and grant of the user was ended.",
	"mfa-reset":       "The second factors were removed and the user's sessions ended.",
	"client-deleted":  "The client was deleted.",
	"client-updated":  "The client was saved.",
	"user-invited":    "The invitation was sent: the link to set a password works for 7 days.",
	"reset-sent":      "A password-reset link was mailed; it works for 30 minutes, and the current password keeps working until it is used.",
	"nothing-changed": "Nothing changed.",

	// Resources (/admin/resources).
	"resource-created": "The resource was registered, without introspection credentials.",
	"resource-updated": "The resource was saved. Tokens already issued keep their lifetime and signature.",
	"resource-deleted": "The resource was deleted.",

	// Upstreams (/admin/upstreams).
	"upstream-created": "The upstream was added. Register the redirect URI below for idp at the upstream; its button is on the sign-in page now.",
	"upstream-updated": "The upstream was saved.",
	"upstream-deleted": "The upstream was deleted with its account links; the users stay.",
}

// adminNotice returns the words for a notice code, or "".
func adminNotice(code string) string { return adminNotices[code] }

func (h *Handlers) renderAdmin(c echo.Context, status int, fn func(io.Writer) error) error {
	return plumbing.Render(c, status, plumbing.HTMLCSP(), fn)
}

func fmtTime(t *admin.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// joinLines folds the lines of a joined error with "; ".
func joinLines(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' {
			out = append(out, ';', ' ')
			continue
		}
		out = append(out, r)
	}
	return string(out)
}
