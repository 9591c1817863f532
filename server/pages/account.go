package pages

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/db"
	"idp/mfa"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
	"idp/users"
)

const accountTime = "2 Jan 2006 15:04 MST"

// Account shows the signed-in user their account and their sessions.
func (h *Handlers) Account(c echo.Context) error {
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user == nil {
		return c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
	}
	return h.renderAccount(c, http.StatusOK, sess, user, "")
}

// accountUser is the prologue of the account page's forms: the CSRF
// check, then the signed-in user. When it returns a nil user the request
// is answered already: err is the refusal or the failure, or nil after
// the 303 to the sign-in page, so the caller returns err as it is.
func (h *Handlers) accountUser(c echo.Context) (*sessions.Session, *users.User, error) {
	if err := h.site.CheckCSRF(c); err != nil {
		return nil, nil, err
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil || user != nil {
		return sess, user, err
	}
	return nil, nil, c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
}

// renderAccount writes the account page of user, signed in with sess;
// passwordProblem is why a password change was refused.
func (h *Handlers) renderAccount(c echo.Context, status int, sess *sessions.Session, user *users.User, passwordProblem string) error {
	list, err := h.site.Sessions.List(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}
	page := templates.AccountPage{
		Base: h.site.Base(c, "Your account"), Email: user.Email, Name: user.Name, Roles: user.Roles,
		IsAdmin: user.HasRole("admin"), PasswordError: passwordProblem,
		PasswordNeedsCurrent: !h.recentSignIn(sess), EmailChange: h.cfg.SelfService.ResetEnabled(),
	}
	page.EmailError, _ = c.Get(ctxEmailError).(string)
	if passwordProblem == "" && page.EmailError == "" {
		page.Notice = noticeText(c.QueryParam("notice"))
	}
	grants, err := h.site.Tokens.Grants(c.Request().Context(), user.ID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		name := g.ClientID
		if cl, err := h.site.Clients.Store().ByID(c.Request().Context(), g.ClientID); err == nil {
			name = plumbing.ClientName(cl)
		}
		page.Grants = append(page.Grants, templates.AccountGrant{
			ID: g.ID, Client: name, Created: g.CreatedAt.Format(accountTime), LastUsed: g.LastUsedAt.Format(accountTime),
			IP: g.IP, UserAgent: deviceName(g.UserAgent),
		})
	}
	if err := h.securitySection(c, user, &page); err != nil {
		return err
	}
	if err := h.linksSection(c, user, &page); err != nil {
		return err
	}
	for _, x := range list {
		page.Sessions = append(page.Sessions, templates.AccountSession{
			ID: x.ID, Created: x.CreatedAt.Format(accountTime), LastSeen: x.LastSeenAt.Format(accountTime),
			IP: x.IP, UserAgent: deviceName(x.UserAgent), Current: x.ID == sess.ID,
		})
	}
	return plumbing.Render(c, status, plumbing.HTMLCSP(), func(w io.Writer) error {
		return h.site.Templates.Account(w, page)
	})
}

// noticeText maps the fixed notice codes of account redirects to words, so
// no text from the URL is ever shown.
func noticeText(code string) string {
	switch code {
	case "session-ended":
		return "The session was signed out."
	case "grant-revoked":
		return "The application's access was revoked."
	case "factor-added":
		return "Your new way to sign in is ready."
	case "passkey-removed":
		return "The passkey was removed."
	case "totp-removed":
		return "The authenticator app was removed."
	case "password-changed":
		return "Your password was changed. Every other session was signed out and every app's offline access revoked."
	case "email-link-sent":
		return "A link is on its way to the new address. Your address changes when you open it; until then it stays as it is."
	case "password-changed-kept":
		return "Your password was changed."
	case "unlinked":
		return "The account was disconnected. You can no longer sign in with it."
	case "last-link":
		return "That connected account is your only way to sign in: set a password or add a passkey first."
	case "last-factor":
		return "Your role needs a second way to sign in: add another before removing this one."
	}
	return ""
}

// RevokeSession signs out one of the user's sessions.
func (h *Handlers) RevokeSession(c echo.Context) error {
	sess, user, err := h.accountUser(c)
	if user == nil {
		return err
	}
	id := c.FormValue("id")
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	if id == sess.ID {
		h.site.NoteEnding(c, sess.ID)
	}
	err = h.site.Sessions.End(c.Request().Context(), user.ID, id)
	if err == nil {
		h.site.Record(c, "session.ended", user.ID, "session="+id)
	}
	if err != nil && !errors.Is(err, sessions.ErrNoSession) {
		return err
	}
	if id == sess.ID {
		h.site.SetCookie(c, plumbing.CookieSession, "", -1)
		return h.site.SignedOut(c, "")
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=session-ended")
}

// RevokeGrant revokes one of the user's offline-access grants
// (a refresh family and its live access tokens).
func (h *Handlers) RevokeGrant(c echo.Context) error {
	_, user, err := h.accountUser(c)
	if user == nil {
		return err
	}
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	err = h.site.Tokens.RevokeGrant(c.Request().Context(), user.ID, c.FormValue("id"))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=grant-revoked")
}

// LogoutAll ends every session of the user ("sign out everywhere").
func (h *Handlers) LogoutAll(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user != nil {
		h.site.ActAs(c, user.Email, audit.ViaWeb)
		h.site.NoteEnding(c, sess.ID) // this browser's session: the others' iframes would load elsewhere
		h.site.Record(c, "logout.everywhere", user.ID, "")
		if err := h.site.Sessions.EndAll(c.Request().Context(), user.ID); err != nil {
			return err
		}
		if err := h.site.Tokens.RevokeUserGrants(c.Request().Context(), user.ID); err != nil {
			return err
		}
		h.site.Log.Info("signed out everywhere", "request_id", plumbing.RequestIDOf(c), "user", user.ID)
	}
	h.site.SetCookie(c, plumbing.CookieSession, "", -1)
	return h.site.SignedOut(c, "")
}

// securitySection fills the account page's factors and their history.
func (h *Handlers) securitySection(c echo.Context, user *users.User, page *templates.AccountPage) error {
	ctx := c.Request().Context()
	f, err := h.site.MFA.Of(ctx, user.ID)
	if err != nil {
		return err
	}
	page.HasFactor, page.RecoveryLeft, page.RecoveryTotal = f.Any(), f.RecoveryLeft, f.RecoveryTotal
	page.MFARequired = mfa.RoleDemands(h.site.MFARequiredRoles, user.Roles)
	page.CanAddPasskey = h.site.MFA.PasskeysEnabled()
	for _, p := range f.Passkeys {
		page.Passkeys = append(page.Passkeys, templates.AccountPasskey{ID: p.ID, Name: p.Name, AAGUID: p.AAGUID,
			Created: p.Created.Format(accountTime), LastUsed: fmtOptional(p.LastUsed), Synced: p.Synced})
	}
	if f.TOTP != nil {
		page.TOTP = &templates.AccountTOTP{Confirmed: f.TOTP.Confirmed.Format(accountTime), LastUsed: fmtOptional(f.TOTP.LastUsed)}
	}
	events, err := h.site.Audit.About(ctx, user.ID, "mfa.", 10)
	if err != nil {
		return err
	}
	for _, e := range events {
		page.FactorEvents = append(page.FactorEvents, templates.AccountEvent{At: e.At.Format(accountTime),
			Text: factorEventText(e), Via: e.Via})
	}
	return nil
}

func fmtOptional(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(accountTime)
}

// factorEventText says what a factor event was, in words; the actor is
// named when it was not the user (an administrator's reset).
func factorEventText(e audit.Event) string {
	var s string
	switch e.Action {
	case "mfa.passkey_added":
		s = "Passkey added"
	case "mfa.passkey_removed":
		s = "Passkey removed"
	case "mfa.totp_added":
		s = "Authenticator app turned on"
	case "mfa.totp_removed":
		s = "Authenticator app removed"
	case "mfa.recovery_generated":
		s = "New recovery codes made"
	case "mfa.recovery_used":
		s = "A recovery code was used to sign in"
	case "mfa.recovery_removed":
		s = "Recovery codes removed"
	case "mfa.reset":
		s = "All second factors removed by an administrator (" + e.Actor + ")"
	case "mfa.failure":
		s = "A second factor was refused"
	default:
		s = e.Action
	}
	if name, ok := detailValue(e.Detail, "name"); ok {
		s += ": " + name
	}
	return s
}

// detailValue reads key=value from an audit detail.
func detailValue(detail, key string) (string, bool) {
	i := strings.Index(detail, key+"=")
	if i < 0 || (i > 0 && detail[i-1] != ' ') {
		return "", false
	}
	v := detail[i+len(key)+1:]
	if j := strings.Index(v, " aaguid="); j >= 0 {
		v = v[:j]
	}
	return v, true
}
