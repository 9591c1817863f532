package pages

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/mfa"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
	"idp/tokens"
	"idp/users"
)

// The second factor: asked for after a password when the user has one,
// and on an existing session when an authorization, the user's role or
// the admin side needs more than the session has (step-up); set up on
// the spot when the user has none that would do.

// mfaSubject is who the second-factor page is for: a half-done sign-in
// (the step cookie) or the session being stepped up.
type mfaSubject struct {
	user      *users.User
	stepToken string
	sess      *sessions.Session
	sessToken string
	amr       []string
}

// acct is the subject as the passkey ceremonies name it.
func (s *mfaSubject) acct() mfa.Account {
	return mfa.Account{ID: s.user.ID, Email: s.user.Email, Name: s.user.Name}
}

// mfaSubjectOf finds the subject of a request, or nil when the browser
// has neither a half-done sign-in nor a session.
func (h *Handlers) mfaSubjectOf(c echo.Context) (*mfaSubject, error) {
	ctx := c.Request().Context()
	if tok := h.site.Cookie(c, plumbing.CookieStep); tok != "" {
		st, err := h.site.Sessions.Step(ctx, tok)
		switch {
		case err == nil:
			u, err := h.site.Users.Store().ByID(ctx, st.UserID)
			if err == nil && !u.Disabled {
				return &mfaSubject{user: u, stepToken: tok, amr: st.AMR}, nil
			}
		case !errors.Is(err, sessions.ErrNoStep):
			return nil, err
		}
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil || sess == nil {
		return nil, err
	}
	return &mfaSubject{user: user, sess: sess, sessToken: h.site.Cookie(c, plumbing.CookieSession), amr: sess.AMR}, nil
}

// mfaTarget is where the browser goes once the factor is done: a pending
// authorization request, or a page of idp's own.
type mfaTarget struct {
	reqID  string
	next   string
	req    *tokens.AuthRequest
	client *clients.Client
}

// targetOf reads req and next (query or form). next is only ever one of
// idp's own pages, so the page cannot be made to redirect anywhere else.
func (h *Handlers) targetOf(c echo.Context, reqID, next string) (mfaTarget, error) {
	t := mfaTarget{next: safeNext(next)}
	if reqID == "" {
		return t, nil
	}
	req, client, err := h.site.PendingRequest(c.Request().Context(), reqID)
	if err != nil {
		return t, err
	}
	t.reqID, t.req, t.client = reqID, req, client
	return t, nil
}

// safeNext keeps next only when it is /account, a page under /admin or
// the device page (see isDeviceNext).
func safeNext(next string) string {
	if isDeviceNext(next) {
		return next
	}
	if next == plumbing.PathAccount || next == plumbing.PathAdmin ||
		strings.HasPrefix(next, plumbing.PathAdmin+"/") && !strings.ContainsAny(next, "\\?#%") && !strings.Contains(next, "//") {
		return next
	}
	return ""
}

// mfaURL is the second-factor page for a request or a next page.
func mfaURL(reqID, next string) string {
	v := url.Values{}
	if reqID != "" {
		v.Set("req", reqID)
	}
	if next != "" {
		v.Set("next", next)
	}
	if len(v) == 0 {
		return plumbing.PathLoginMFA
	}
	return plumbing.PathLoginMFA + "?" + v.Encode()
}

// need is the level the target needs of subject: at least a second
// factor (the page is only ever reached for one), more if the
// authorization asks.
func (h *Handlers) need(t mfaTarget, user *users.User) mfa.Level {
	need := mfa.LevelMFA
	if t.req != nil {
		if l := h.site.LevelNeeded(t.client, user, t.req.ACRValues); l > need {
			need = l
		}
	}
	return need
}

// MFAPage asks for the second factor, or sets one up.
func (h *Handlers) MFAPage(c echo.Context) error {
	t, err := h.targetOf(c, c.QueryParam("req"), c.QueryParam("next"))
	if err != nil {
		return err
	}
	subj, err := h.mfaSubjectOf(c)
	if err != nil {
		return err
	}
	if subj == nil {
		return c.Redirect(http.StatusSeeOther, loginURL(t.reqID))
	}
	return h.renderMFA(c, http.StatusOK, subj, t, "")
}

// renderMFA shows what can reach the level the target needs from what the
// subject has proven: the factors that would do, or, when none would, the
// enrollment of one — only for a user without factors or one who has
// just proven a second factor, so a password alone never adds one.
func (h *Handlers) renderMFA(c echo.Context, status int, subj *mfaSubject, t mfaTarget, problem string) error {
	ctx := c.Request().Context()
	f, err := h.site.MFA.Of(ctx, subj.user.ID)
	if err != nil {
		return err
	}
	need, have := h.need(t, subj.user), mfa.Assurance(subj.amr)
	withCode := mfa.Assurance(mfa.Combine(subj.amr, mfa.AMROTP))
	page := templates.MFAPage{
		Base: h.site.Base(c, "Confirm it's you"), Action: plumbing.PathLoginMFA, RequestID: t.reqID, Next: t.next,
		ClientName: plumbing.ClientName(t.client), Error: problem, Reason: h.reason(t, subj.user, f, need),
		Passkey:  len(f.Passkeys) > 0 && h.site.MFA.PasskeysEnabled(),
		TOTP:     f.TOTP != nil && withCode >= need,
		Recovery: f.RecoveryLeft > 0 && withCode >= need,
	}
	if !page.Passkey && !page.TOTP && !page.Recovery {
		if f.Any() && have < mfa.LevelMFA {
			// Only a passkey would do and the user has none: they prove
			// the factor they have first, then add one.
			page.TOTP, page.Recovery = f.TOTP != nil, f.RecoveryLeft > 0
			page.Reason = "First confirm it's you with your authenticator app; then add a passkey, which this sign-in needs."
		} else {
			page.Enroll, page.PasskeyEnroll = true, h.site.MFA.PasskeysEnabled()
			page.Title = "Set up a second way to sign in"
			if f.TOTP == nil && need <= mfa.LevelMFA {
				e, err := h.site.MFA.BeginTOTP(ctx, subj.user.ID, subj.user.Email)
				if err != nil {
					return err
				}
				page.TOTPEnroll = &templates.TOTPEnrollment{Secret: e.Secret, URI: e.URI, QR: e.QR}
			}
		}
	}
	var targets []string
	if t.req != nil {
		targets = append(targets, t.req.RedirectURI)
	}
	return plumbing.Render(c, status, plumbing.HTMLCSP(targets...), func(w io.Writer) error {
		return h.site.Templates.MFA(w, page)
	})
}

// reason says in plain words why the page asks.
func (h *Handlers) reason(t mfaTarget, user *users.User, f mfa.Factors, need mfa.Level) string {
	app := plumbing.ClientName(t.client)
	switch {
	case need >= mfa.LevelPhishingResistant && app != "":
		return app + " asks you to sign in with a passkey."
	case t.client != nil && t.client.RequireMFA:
		return app + " needs a second way to confirm it's you."
	case mfa.RoleDemands(h.site.MFARequiredRoles, user.Roles) && !f.Any():
		return "Your role needs a second way to sign in. Set one up now; it takes a minute."
	case t.req != nil && mfa.Required(t.req.ACRValues, false) >= mfa.LevelMFA:
		return app + " asks for a second way to confirm it's you."
	case f.Any():
		return "You have turned on two-step sign-in."
	}
	return "This needs a second way to confirm it's you."
}

// mfaForm is a second-factor form post: CSRF checked, subject and target
// loaded. A browser with neither step nor session goes to the sign-in.
func (h *Handlers) mfaForm(c echo.Context) (*mfaSubject, mfaTarget, error) {
	if err := h.site.CheckCSRF(c); err != nil {
		return nil, mfaTarget{}, err
	}
	t, err := h.targetOf(c, c.FormValue("req"), c.FormValue("next"))
	if err != nil {
		return nil, t, err
	}
	subj, err := h.mfaSubjectOf(c)
	if err != nil {
		return nil, t, err
	}
	if subj == nil {
		return nil, t, c.Redirect(http.StatusSeeOther, loginURL(t.reqID))
	}
	return subj, t, nil
}

// MFATOTP checks a code from the authenticator app. Wrong codes count
// toward the sign-in throttle like wrong passwords.
func (h *Handlers) MFATOTP(c echo.Context) error {
	subj, t, err := h.mfaForm(c)
	if subj == nil {
		return err
	}
	return h.checkCode(c, subj, t, "totp", func() error {
		return h.site.MFA.VerifyTOTP(c.Request().Context(), subj.user.ID, c.FormValue("code"))
	})
}

// MFARecovery spends a recovery code.
func (h *Handlers) MFARecovery(c echo.Context) error {
	subj, t, err := h.mfaForm(c)
	if subj == nil {
		return err
	}
	return h.checkCode(c, subj, t, "recovery", func() error {
		return h.site.MFA.UseRecoveryCode(c.Request().Context(), subj.user.ID, c.FormValue("code"))
	})
}

// checkCode runs a code check under the sign-in throttle.
func (h *Handlers) checkCode(c echo.Context, subj *mfaSubject, t mfaTarget, kind string, check func() error) error {
	ctx := c.Request().Context()
	ip := c.RealIP()
	if wait, err := h.throttle.Check(ctx, subj.user.Email, ip); err != nil {
		return err
	} else if wait > 0 {
		setRetryAfter(c, wait)
		h.site.RecordAs(c, subj.user.Email, "signin.throttled", subj.user.ID, "factor="+kind)
		return h.renderMFA(c, http.StatusTooManyRequests, subj, t, tooManyText(wait))
	}
	err := check()
	if errors.Is(err, mfa.ErrInvalidCode) || errors.Is(err, mfa.ErrNotEnrolled) {
		h.site.RecordAs(c, subj.user.Email, "mfa.failure", subj.user.ID, "factor="+kind)
		if _, err := h.throttle.Fail(ctx, subj.user.Email, ip); err != nil {
			return err
		}
		problem := "That code is not valid. Check the app and try again."
		if kind == "recovery" {
			problem = "That recovery code is not valid or was already used."
		}
		return h.renderMFA(c, http.StatusUnauthorized, subj, t, problem)
	}
	if err != nil {
		return err
	}
	if err := h.throttle.Succeed(ctx, subj.user.Email, ip); err != nil {
		return err
	}
	if kind == "recovery" {
		left := 0
		if f, err := h.site.MFA.Of(ctx, subj.user.ID); err == nil {
			left = f.RecoveryLeft
		}
		h.site.RecordAs(c, subj.user.Email, "mfa.recovery_used", subj.user.ID, "left="+strconv.Itoa(left))
	}
	return h.factorVerified(c, subj, t, []string{mfa.AMROTP}, kind)
}

// MFAPasskeyOptions starts a passkey check of the subject (JSON).
func (h *Handlers) MFAPasskeyOptions(c echo.Context) error {
	subj, _, err := h.mfaForm(c)
	if subj == nil {
		return err
	}
	if h.passkeysOff(c) {
		return nil
	}
	handle, opts, err := h.site.MFA.BeginLogin(c.Request().Context(), subj.acct())
	if errors.Is(err, mfa.ErrNotEnrolled) {
		return c.JSON(http.StatusConflict, map[string]string{"error": "no passkey is registered"})
	}
	if err != nil {
		return err
	}
	return ceremonyJSON(c, handle, opts)
}

// MFAPasskey verifies a passkey as the second factor.
func (h *Handlers) MFAPasskey(c echo.Context) error {
	subj, t, err := h.mfaForm(c)
	if subj == nil {
		return err
	}
	a, err := h.site.MFA.FinishLogin(c.Request().Context(), subj.acct(), c.FormValue("handle"), []byte(c.FormValue("credential")))
	if errors.Is(err, mfa.ErrCeremony) {
		h.site.RecordAs(c, subj.user.Email, "mfa.failure", subj.user.ID, "factor=passkey reason="+reasonOf(err))
		return h.renderMFA(c, http.StatusUnauthorized, subj, t, "That passkey could not be verified. Try again.")
	}
	if err != nil {
		return err
	}
	return h.factorVerified(c, subj, t, a.AMR(), "passkey")
}

// factorVerified records a verified factor: a half-done sign-in becomes a
// session, an existing session is elevated (with a new secret). Then the
// browser goes on to the target.
func (h *Handlers) factorVerified(c echo.Context, subj *mfaSubject, t mfaTarget, methods []string, kind string) error {
	sess, err := h.elevate(c, subj, methods)
	if errors.Is(err, sessions.ErrNoStep) || errors.Is(err, sessions.ErrNoSession) {
		return c.Redirect(http.StatusSeeOther, loginURL(t.reqID))
	}
	if err != nil {
		return err
	}
	h.site.RecordAs(c, subj.user.Email, "signin.success", subj.user.ID,
		strings.TrimSpace("amr="+strings.Join(sess.AMR, ",")+" factor="+kind+" "+clientOf(t)))
	return h.continueTo(c, t, sess, subj.user)
}

// elevate turns the subject into a session that also proved methods.
func (h *Handlers) elevate(c echo.Context, subj *mfaSubject, methods []string) (*sessions.Session, error) {
	ctx := c.Request().Context()
	amr := mfa.Combine(subj.amr, methods...)
	if subj.stepToken != "" {
		if old, _, _ := h.site.CurrentUser(c); old != nil {
			_ = h.site.Sessions.End(ctx, old.UserID, old.ID)
		}
		token, sess, err := h.site.Sessions.CompleteStep(ctx, subj.stepToken, amr, c.RealIP(), c.Request().UserAgent())
		if err != nil {
			return nil, err
		}
		h.site.SetCookie(c, plumbing.CookieStep, "", -1)
		h.site.SetCookie(c, plumbing.CookieSession, token, h.cfg.SessionTTL)
		subj.stepToken, subj.sess, subj.sessToken, subj.amr = "", sess, token, amr
		return sess, nil
	}
	token, err := h.site.Sessions.Elevate(ctx, subj.sess, subj.sessToken, amr)
	if err != nil {
		return nil, err
	}
	h.site.SetCookie(c, plumbing.CookieSession, token, h.cfg.SessionTTL)
	subj.sessToken, subj.amr = token, amr
	return subj.sess, nil
}

// continueTo hands a pending authorization back to the protocol side
// (which checks the level again) or goes to the next page.
func (h *Handlers) continueTo(c echo.Context, t mfaTarget, sess *sessions.Session, user *users.User) error {
	if shown, err := h.offerLink(c, t.reqID, t.next, sess, user); shown || err != nil {
		return err // a pending upstream link is offered first (upstream_link.go)
	}
	if t.reqID != "" {
		return h.auth.SignedIn(c, t.reqID, sess, user)
	}
	if t.next != "" {
		return c.Redirect(http.StatusSeeOther, t.next)
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
}

// MFAContinue goes on after the recovery codes of a first enrollment were
// shown.
func (h *Handlers) MFAContinue(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	t, err := h.targetOf(c, c.FormValue("req"), c.FormValue("next"))
	if err != nil {
		return err
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if sess == nil {
		return c.Redirect(http.StatusSeeOther, loginURL(t.reqID))
	}
	return h.continueTo(c, t, sess, user)
}

// passkeysOff answers a ceremony request when passkeys cannot work under
// this issuer (its host is an IP address): the pages do not offer them.
func (h *Handlers) passkeysOff(c echo.Context) bool {
	if h.site.MFA.PasskeysEnabled() {
		return false
	}
	_ = c.JSON(http.StatusNotFound, map[string]string{"error": "passkeys are not available under this issuer"})
	return true
}

// ceremonyJSON answers a ceremony's options request.
func ceremonyJSON(c echo.Context, handle string, options []byte) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, struct {
		Handle  string          `json:"handle"`
		Options json.RawMessage `json:"options"`
	}{handle, options})
}

// reasonOf is the audit wording of a refused ceremony: go-webauthn's
// reason, which names a check, never a secret.
func reasonOf(err error) string {
	s := strings.TrimPrefix(err.Error(), mfa.ErrCeremony.Error()+": ")
	if len(s) > 160 {
		s = s[:160]
	}
	return strings.ReplaceAll(s, " ", "_")
}

// clientOf names the client of a target for the audit log.
func clientOf(t mfaTarget) string {
	if t.client == nil {
		return ""
	}
	return "client=" + t.client.ID
}
