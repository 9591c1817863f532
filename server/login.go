package server

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/server/plumbing"
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
func (s *Server) loadRequest(c echo.Context, id string) (loginContext, error) {
	if id == "" {
		return loginContext{}, nil
	}
	req, client, err := s.site.PendingRequest(c.Request().Context(), id)
	if err != nil {
		return loginContext{}, err
	}
	return loginContext{req: req, client: client}, nil
}

// handleLoginPage shows the sign-in form.
func (s *Server) handleLoginPage(c echo.Context) error {
	lc, err := s.loadRequest(c, c.QueryParam("req"))
	if err != nil {
		return err
	}
	if lc.req == nil {
		if sess, _, err := s.site.CurrentUser(c); err == nil && sess != nil {
			return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
		}
	}
	email := ""
	if lc.req != nil {
		email = lc.req.LoginHint
	}
	return s.renderLogin(c, http.StatusOK, lc, email, "")
}

func (s *Server) renderLogin(c echo.Context, status int, lc loginContext, email, problem string) error {
	page := templates.LoginPage{Base: s.site.Base(c, "Sign in"), Email: email, Error: problem}
	var targets []string
	if lc.req != nil {
		page.RequestID, page.ClientName = lc.req.ID, plumbing.ClientName(lc.client)
		targets = append(targets, lc.req.RedirectURI)
	}
	return plumbing.Render(c, status, plumbing.HTMLCSP(targets...), func(w io.Writer) error {
		return s.deps.Templates.Login(w, page)
	})
}

// handleLogin checks the credentials, starts a fresh SSO session and
// continues the pending authorization request, if any.
func (s *Server) handleLogin(c echo.Context) error {
	if err := s.site.CheckCSRF(c); err != nil {
		return err
	}
	lc, err := s.loadRequest(c, c.FormValue("req"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	email, password := c.FormValue("email"), c.FormValue("password")
	if !plumbing.ValidText(email) {
		// No account has such an address; the database could not even look
		// it up.
		return s.renderLogin(c, http.StatusUnauthorized, lc, "", "Wrong email or password.")
	}
	ip := c.RealIP()
	// Throttled attempts are refused before the password is checked, so a
	// locked guesser learns nothing; the lock only ever follows failures.
	if wait, err := s.deps.Throttle.Check(ctx, email, ip); err != nil {
		return err
	} else if wait > 0 {
		return s.tooManyAttempts(c, lc, email, wait)
	}
	user, err := s.deps.Users.Authenticate(ctx, email, password)
	if errors.Is(err, users.ErrInvalidCredentials) {
		s.site.Log.Info("sign-in failed", "request_id", plumbing.RequestIDOf(c), "remote", ip)
		s.site.RecordAs(c, email, "signin.failure", "", lc.clientDetail())
		if _, err := s.deps.Throttle.Fail(ctx, email, ip); err != nil {
			return err
		}
		return s.renderLogin(c, http.StatusUnauthorized, lc, email, "Wrong email or password.")
	}
	if errors.Is(err, users.ErrBusy) {
		// Every hashing slot stayed busy: shed load rather than queue
		// without bound (RFC 9110 §15.6.4).
		c.Response().Header().Set("Retry-After", "5")
		return s.renderLogin(c, http.StatusServiceUnavailable, lc, email,
			"Too many people are signing in right now. Try again in a few seconds.")
	}
	if err != nil {
		return err
	}
	if err := s.deps.Throttle.Succeed(ctx, email, ip); err != nil {
		return err
	}
	// A new session id on every sign-in defeats session fixation; the old
	// session of this browser, if any, ends.
	if old, _, _ := s.site.CurrentUser(c); old != nil {
		_ = s.deps.Sessions.End(ctx, old.UserID, old.ID)
	}
	token, sess, err := s.deps.Sessions.Start(ctx, user.ID, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	s.site.SetCookie(c, plumbing.CookieSession, token, s.cfg.SessionTTL)
	s.site.Log.Info("signed in", "request_id", plumbing.RequestIDOf(c), "user", user.ID)
	s.site.RecordAs(c, user.Email, "signin.success", user.ID, lc.clientDetail())
	if lc.req == nil {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	}
	return s.protocol.SignedIn(c, lc.req.ID, sess, user)
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
func (s *Server) tooManyAttempts(c echo.Context, lc loginContext, email string, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	s.site.RecordAs(c, email, "signin.throttled", "", lc.clientDetail())
	msg := fmt.Sprintf("Too many failed attempts. Wait %d seconds, then try again.", secs)
	if secs >= 120 {
		msg = fmt.Sprintf("Too many failed attempts. Wait %d minutes, then try again.", (secs+59)/60)
	}
	return s.renderLogin(c, http.StatusTooManyRequests, lc, email, msg)
}
