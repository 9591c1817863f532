package pages

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/mfa"
	"idp/server/plumbing"
)

// Passwordless sign-in: a discoverable passkey names its user, and the
// authenticator's user verification (PIN or biometric) is the second
// factor, so no email or password is typed.

// PasskeyOptions starts a passwordless sign-in (JSON for webauthn.js).
func (h *Handlers) PasskeyOptions(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	if h.passkeysOff(c) {
		return nil
	}
	handle, opts, err := h.site.MFA.BeginLogin(c.Request().Context(), mfa.Account{})
	if err != nil {
		return err
	}
	return ceremonyJSON(c, handle, opts)
}

// PasskeyLogin verifies a passwordless sign-in and starts the session.
func (h *Handlers) PasskeyLogin(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	lc, err := h.loadRequest(c, c.FormValue("req"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// Failed passkey sign-ins count toward the sign-in throttle: as an
	// attempt without an account (none is known before the passkey names
	// one) from this address, and toward the address's own budget, which
	// failed passwords from there share.
	ip := c.RealIP()
	if wait, err := h.throttle.Check(ctx, "", ip); err != nil {
		return err
	} else if wait > 0 {
		setRetryAfter(c, wait)
		h.site.RecordAs(c, "unknown", "signin.throttled", "", strings.TrimSpace("factor=passkey "+lc.clientDetail()))
		return h.renderLogin(c, http.StatusTooManyRequests, lc, "", tooManyText(wait))
	}
	a, err := h.site.MFA.FinishLogin(ctx, mfa.Account{}, c.FormValue("handle"), []byte(c.FormValue("credential")))
	if errors.Is(err, mfa.ErrCeremony) {
		h.site.RecordAs(c, "unknown", "signin.failure", "", strings.TrimSpace("factor=passkey reason="+reasonOf(err)+" "+lc.clientDetail()))
		if _, err := h.throttle.Fail(ctx, "", ip); err != nil {
			return err
		}
		return h.renderLogin(c, http.StatusUnauthorized, lc, "", "That passkey could not be verified. Try again, or sign in with your password.")
	}
	if err != nil {
		return err
	}
	user, err := h.site.Users.Store().ByID(ctx, a.UserID)
	if err != nil || user.Disabled {
		h.site.RecordAs(c, a.UserID, "signin.failure", a.UserID, strings.TrimSpace("factor=passkey reason=user_disabled_or_gone "+lc.clientDetail()))
		return h.renderLogin(c, http.StatusUnauthorized, lc, "", "That passkey could not be verified. Try again, or sign in with your password.")
	}
	sess, err := h.startSession(c, user, mfa.Combine(nil, a.AMR()...))
	if err != nil {
		return err
	}
	h.site.Log.Info("signed in", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "method", "passkey")
	h.site.RecordAs(c, user.Email, "signin.success", user.ID,
		strings.TrimSpace("amr="+strings.Join(sess.AMR, ",")+" passkey="+a.Name+" "+lc.clientDetail()))
	reqID := ""
	if lc.req != nil {
		reqID = lc.req.ID
	}
	return h.afterSignIn(c, reqID, sess, user)
}
