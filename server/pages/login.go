package pages

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/mfa"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
	"idp/tokens"
	"idp/users"
)

// loginContext is what the sign-in page needs of an optional pending
// authorization request.
type loginContext struct {
	req    *tokens.AuthRequest
	client *clients.Client
}

// loadRequest loads the pending request named by the req parameter (if
// any) and its client. A stale id is a page in plain words.
func (h *Handlers) loadRequest(c echo.Context, id string) (loginContext, error) {
	if id == "" {
		return loginContext{}, nil
	}
	req, client, err := h.site.PendingRequest(c.Request().Context(), id)
	if err != nil {
		return loginContext{}, err
	}
	return loginContext{req: req, client: client}, nil
}

// LoginPage shows the sign-in form.
func (h *Handlers) LoginPage(c echo.Context) error {
	lc, err := h.loadRequest(c, c.QueryParam("req"))
	if err != nil {
		return err
	}
	// A signed-in browser skips the form, unless it holds a pending
	// upstream link: that needs a fresh sign-in (offerLink).
	if lc.req == nil && h.site.Cookie(c, plumbing.CookieUpstreamLink) == "" {
		if sess, _, err := h.site.CurrentUser(c); err == nil && sess != nil {
			return c.Redirect(http.StatusSeeOther, cmp.Or(safeNext(c.QueryParam("next")), plumbing.PathAccount))
		}
	}
	if lc.req != nil {
		if to, ok := h.hintedUpstream(c, lc.req.ID, c.QueryParam("idp_hint")); ok {
			return c.Redirect(http.StatusSeeOther, to)
		}
		// Only on the first arrival from /authorize: a person sent back
		// here (the upstream refused, or they chose to come back) picks.
		if c.QueryParam("realm") == "1" {
			if to, ok := h.realmUpstream(c, lc.req.ID, lc.req.LoginHint); ok {
				return c.Redirect(http.StatusSeeOther, to)
			}
		}
	}
	email := ""
	if lc.req != nil {
		email = lc.req.LoginHint
	}
	return h.renderLogin(c, http.StatusOK, lc, email, "")
}

// renderLogin shows the sign-in form, with a problem in plain words if
// the last attempt failed.
func (h *Handlers) renderLogin(c echo.Context, status int, lc loginContext, email, problem string) error {
	page := templates.LoginPage{Base: h.site.Base(c, "Sign in"), Email: email, Error: problem,
		Passkeys: h.site.MFA.PasskeysEnabled(), ResetPassword: h.resetOn() && !h.cfg.NoPasswordLogin, NoPassword: h.cfg.NoPasswordLogin, SignUp: h.cfg.Signup, InviteOnly: h.cfg.InviteOnly,
		Next: safeNext(c.FormValue("next"))}
	var targets []string
	if lc.req != nil {
		page.RequestID, page.ClientName = lc.req.ID, plumbing.ClientName(lc.client)
		page.Client = plumbing.ClientBrand(lc.client)
		targets = append(targets, lc.req.RedirectURI)
	}
	buttons, err := h.upstreamButtons(c, page.RequestID, page.Next)
	if err != nil {
		return err
	}
	page.Upstreams = buttons
	return plumbing.Render(c, status, plumbing.ClientPageCSP(lc.client, targets...), func(w io.Writer) error {
		return h.site.Templates.Login(w, page)
	})
}

// Login checks the credentials, starts a fresh SSO session and
// continues the pending authorization request, if any.
func (h *Handlers) Login(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	if h.cfg.NoPasswordLogin {
		return &plumbing.PageError{Status: http.StatusForbidden, Heading: "Signing in with a password is turned off",
			Message: "Go back to the sign-in page and choose one of the other ways to sign in."}
	}
	lc, err := h.loadRequest(c, c.FormValue("req"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	email, password := c.FormValue("email"), c.FormValue("password")
	if !plumbing.ValidText(email) {
		// No account has such an address; the database could not even look
		// it up.
		return h.renderLogin(c, http.StatusUnauthorized, lc, "", "Wrong email or password.")
	}
	ip := c.RealIP()
	// Throttled attempts are refused before the password is checked, so a
	// locked guesser learns nothing; the lock only ever follows failures.
	if wait, err := h.throttle.Check(ctx, email, ip); err != nil {
		return err
	} else if wait > 0 {
		return h.tooManyAttempts(c, lc, email, wait)
	}
	user, err := h.site.Users.Authenticate(ctx, email, password)
	if errors.Is(err, users.ErrInvalidCredentials) {
		h.site.Log.Info("sign-in failed", "request_id", plumbing.RequestIDOf(c), "remote", ip)
		h.site.RecordAs(c, email, "signin.failure", "", lc.clientDetail())
		if _, err := h.throttle.Fail(ctx, email, ip); err != nil {
			return err
		}
		return h.renderLogin(c, http.StatusUnauthorized, lc, email, "Wrong email or password.")
	}
	if errors.Is(err, users.ErrBusy) {
		// Every hashing slot stayed busy: shed load rather than queue
		// without bound (RFC 9110 §15.6.4).
		c.Response().Header().Set("Retry-After", "5")
		return h.renderLogin(c, http.StatusServiceUnavailable, lc, email,
			"Too many people are signing in right now. Try again in a few seconds.")
	}
	if err != nil {
		return err
	}
	if err := h.throttle.Succeed(ctx, email, ip); err != nil {
		return err
	}
	// A user with a second factor owes it before any session exists: the
	// browser gets a half-done sign-in, good for a few minutes.
	factors, err := h.site.MFA.Of(ctx, user.ID)
	if err != nil {
		return err
	}
	reqID := ""
	if lc.req != nil {
		reqID = lc.req.ID
	}
	if factors.Any() {
		token, err := h.site.Sessions.BeginStep(ctx, user.ID, []string{mfa.AMRPassword})
		if err != nil {
			return err
		}
		h.site.SetCookie(c, plumbing.CookieStep, token, sessions.StepTTL)
		h.site.RecordAs(c, user.Email, "signin.password_ok", user.ID, lc.clientDetail())
		return c.Redirect(http.StatusSeeOther, mfaURL(reqID, safeNext(c.FormValue("next"))))
	}
	sess, err := h.startSession(c, user, []string{mfa.AMRPassword})
	if err != nil {
		return err
	}
	h.site.Log.Info("signed in", "request_id", plumbing.RequestIDOf(c), "user", user.ID)
	h.site.RecordAs(c, user.Email, "signin.success", user.ID, strings.TrimSpace("amr=pwd "+lc.clientDetail()))
	return h.afterSignIn(c, reqID, sess, user)
}

// afterSignIn continues a fresh session: the pending request (the
// protocol side asks for a second factor if it needs one), else the page
// the form's next names (one of idp's own, see safeNext) or the account
// page — through enrollment first when the user's role demands a second
// factor and they have none.
func (h *Handlers) afterSignIn(c echo.Context, reqID string, sess *sessions.Session, user *users.User) error {
	return h.continueSignIn(c, reqID, c.FormValue("next"), sess, user)
}

// continueSignIn is afterSignIn with the next page given rather than read
// from the form (a sign-in through an upstream carries it across). A
// pending upstream link in this browser is offered first (offerLink).
func (h *Handlers) continueSignIn(c echo.Context, reqID, next string, sess *sessions.Session, user *users.User) error {
	if shown, err := h.offerLink(c, reqID, next, sess, user); shown || err != nil {
		return err
	}
	return h.proceed(c, reqID, next, sess, user)
}

// proceed is where a completed sign-in goes: the pending request, else
// the next page (enrollment first when the user's role demands it).
func (h *Handlers) proceed(c echo.Context, reqID, next string, sess *sessions.Session, user *users.User) error {
	if reqID != "" {
		return h.auth.SignedIn(c, reqID, sess, user)
	}
	next = cmp.Or(safeNext(next), plumbing.PathAccount)
	if mfa.RoleDemands(h.site.MFARequiredRoles, user.Roles) && mfa.Assurance(sess.AMR) < mfa.LevelMFA {
		return c.Redirect(http.StatusSeeOther, mfaURL("", next))
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// startSession gives the browser a fresh SSO session of user. A new
// session id on every sign-in defeats session fixation; the old session of
// this browser, if any, ends.
func (h *Handlers) startSession(c echo.Context, user *users.User, amr []string) (*sessions.Session, error) {
	return h.startSessionFrom(c, user, amr, "", "")
}

// startSessionFrom is startSession for a sign-in through upstream account
// (upstreamID, upstreamSub): the session remembers it, so the refresh
// families it leads to can ask that upstream again.
func (h *Handlers) startSessionFrom(c echo.Context, user *users.User, amr []string, upstreamID, upstreamSub string) (*sessions.Session, error) {
	ctx := c.Request().Context()
	if old, _, _ := h.site.CurrentUser(c); old != nil {
		_ = h.site.Sessions.End(ctx, old.UserID, old.ID)
	}
	token, sess, err := h.site.Sessions.StartFederated(ctx, user.ID, amr, upstreamID, upstreamSub, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return nil, err
	}
	h.site.SetCookie(c, plumbing.CookieSession, token, h.cfg.SessionTTL)
	return sess, nil
}

// loginURL sends a signed-out browser to sign in, then back to a request.
func loginURL(reqID string) string {
	if reqID == "" {
		return plumbing.PathLogin
	}
	return plumbing.PathLogin + "?req=" + url.QueryEscape(reqID)
}

// clientDetail names the client of a sign-in for the audit log.
func (lc loginContext) clientDetail() string {
	if lc.client == nil {
		return ""
	}
	return "client=" + lc.client.ID
}

// tooManyAttempts answers a throttled sign-in: 429 with Retry-After
// (RFC 6585 §4) and the sign-in page saying, in plain words, how long to
// wait.
func (h *Handlers) tooManyAttempts(c echo.Context, lc loginContext, email string, wait time.Duration) error {
	setRetryAfter(c, wait)
	h.site.RecordAs(c, email, "signin.throttled", "", lc.clientDetail())
	return h.renderLogin(c, http.StatusTooManyRequests, lc, email, tooManyText(wait))
}

// setRetryAfter sets Retry-After in whole seconds, rounded up.
func setRetryAfter(c echo.Context, wait time.Duration) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}

// tooManyText says how long a throttled person waits.
func tooManyText(wait time.Duration) string {
	secs := int(math.Ceil(wait.Seconds()))
	if secs >= 120 {
		return fmt.Sprintf("Too many failed attempts. Wait %d minutes, then try again.", (secs+59)/60)
	}
	return fmt.Sprintf("Too many failed attempts. Wait %d seconds, then try again.", secs)
}
