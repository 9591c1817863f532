package pages

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/mfa"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
	"idp/tokens"
	"idp/users"
)

// The device page (RFC 8628 §3.3): a signed-in user enters the code a
// device shows, sees which client asks for what, and approves or denies.
// (device.go is about naming User-Agents; this is the device flow.)

// guessDevice is the throttle kind of user-code guesses.
const guessDevice = "device"

// deviceNext is the page to come back to after signing in or stepping up:
// /device, with the user code when it is a well-formed one.
func deviceNext(userCode string) string {
	if code, ok := tokens.NormalizeUserCode(userCode); ok {
		return plumbing.PathDevice + "?user_code=" + tokens.FormatUserCode(code)
	}
	return plumbing.PathDevice
}

// isDeviceNext reports whether next is exactly what deviceNext makes, so
// the sign-in and second-factor pages can return to it and nowhere else.
func isDeviceNext(next string) bool {
	if next == plumbing.PathDevice {
		return true
	}
	code, ok := strings.CutPrefix(next, plumbing.PathDevice+"?user_code=")
	return ok && deviceNext(code) == next
}

// deviceUser is the signed-in user of a device page request; when nobody
// is, it answers with the redirect to the sign-in page and returns nil.
func (h *Handlers) deviceUser(c echo.Context, userCode string) (*sessions.Session, *users.User, error) {
	sess, user, err := h.site.CurrentUser(c)
	if err != nil || user != nil {
		return sess, user, err
	}
	return nil, nil, c.Redirect(http.StatusSeeOther, plumbing.PathLogin+"?next="+url.QueryEscape(deviceNext(userCode)))
}

// DevicePage shows the code form, prefilled from verification_uri_complete.
func (h *Handlers) DevicePage(c echo.Context) error {
	code := c.QueryParam("user_code")
	_, user, err := h.deviceUser(c, code)
	if user == nil {
		return err
	}
	page := templates.DevicePage{Base: h.site.Base(c, "Connect a device"), Step: templates.DeviceEnter, UserEmail: user.Email}
	if n, ok := tokens.NormalizeUserCode(code); ok {
		page.UserCode = tokens.FormatUserCode(n)
	}
	return h.renderDevice(c, http.StatusOK, page, nil)
}

// DeviceLookup takes the entered code and shows what approving it means.
func (h *Handlers) DeviceLookup(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	_, user, req, client, err := h.deviceRequest(c, true)
	if req == nil {
		return err
	}
	page := templates.DevicePage{Base: h.site.Base(c, "Connect a device"), Step: templates.DeviceConfirm,
		UserCode: h.formattedCode(c), UserEmail: user.Email, ClientName: plumbing.ClientName(client), ClientID: client.ID,
		Client: plumbing.ClientBrand(client), Scopes: scopeLines(plumbing.GrantableScopes(user, req.Scopes))}
	return h.renderDevice(c, http.StatusOK, page, client)
}

// DeviceDecide records the user's answer; the device's next poll hears it.
func (h *Handlers) DeviceDecide(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	decision := c.FormValue("decision")
	if decision != "approve" && decision != "deny" {
		return &plumbing.PageError{Status: http.StatusBadRequest, Heading: "Choose Approve or Deny", Message: "Go back and choose whether to connect the device."}
	}
	// Anyone may refuse; only approving needs what the client demands.
	sess, user, req, client, err := h.deviceRequest(c, decision == "approve")
	if req == nil {
		return err
	}
	ctx, code := c.Request().Context(), c.FormValue("user_code")
	page := templates.DevicePage{Base: h.site.Base(c, "Connect a device"), UserEmail: user.Email,
		ClientName: plumbing.ClientName(client), ClientID: client.ID, Client: plumbing.ClientBrand(client)}
	scopes := plumbing.GrantableScopes(user, req.Scopes)
	if decision == "deny" {
		err = h.site.Tokens.DenyDevice(ctx, code)
		page.Step = templates.DeviceDenied
	} else {
		err = h.site.Tokens.ApproveDevice(ctx, code, scopes, tokens.Authn{
			UserID: user.ID, SessionID: sess.ID, AuthTime: sess.AuthTime, AMR: sess.AMR,
			ACR:        mfa.IssuedACR(nil, mfa.Assurance(sess.AMR)),
			UpstreamID: sess.UpstreamID, UpstreamSub: sess.UpstreamSub,
		})
		page.Step = templates.DeviceApproved
	}
	if errors.Is(err, tokens.ErrUnknownUserCode) {
		// Answered in another tab, or expired while the page was open.
		return h.deviceCodeRefused(c, user, "That code has expired or was already used. Start again on your device.")
	}
	if err != nil {
		return err
	}
	h.site.Log.Info("device "+page.Step, "request_id", plumbing.RequestIDOf(c), "user", user.ID, "client", client.ID)
	h.site.RecordAs(c, user.Email, "device."+page.Step, client.ID, "scope="+oauth.JoinScope(scopes))
	return h.renderDevice(c, http.StatusOK, page, client)
}

// deviceRequest loads the signed-in user and the pending device request of
// the posted user_code, and (with rules) applies the rules an
// authorization of its client has for this user. When it returns a nil request, err is the
// answer already given (a sign-in redirect, the form again with the
// problem, a step-up) or the failure.
func (h *Handlers) deviceRequest(c echo.Context, rules bool) (*sessions.Session, *users.User, *tokens.DeviceRequest, *clients.Client, error) {
	code := c.FormValue("user_code")
	sess, user, err := h.deviceUser(c, code)
	if user == nil {
		return nil, nil, nil, nil, err
	}
	ctx, ip := c.Request().Context(), c.RealIP()
	// Guesses are refused while the address is locked, before the code is
	// looked up, so a locked guesser learns nothing (RFC 8628 §5.1).
	if wait, err := h.throttle.CheckGuess(ctx, guessDevice, ip); err != nil {
		return nil, nil, nil, nil, err
	} else if wait > 0 {
		setRetryAfter(c, wait)
		h.site.RecordAs(c, user.Email, "device.throttled", "", "")
		return nil, nil, nil, nil, h.renderDevice(c, http.StatusTooManyRequests, templates.DevicePage{
			Base: h.site.Base(c, "Connect a device"), Step: templates.DeviceEnter, UserEmail: user.Email,
			UserCode: h.formattedCode(c), Error: tooManyText(wait)}, nil)
	}
	req, err := h.site.Tokens.PendingDevice(ctx, code)
	var client *clients.Client
	if err == nil {
		if client, err = h.site.Clients.Store().ByID(ctx, req.ClientID); err != nil {
			err = tokens.ErrUnknownUserCode // client deleted meanwhile
		}
	}
	if errors.Is(err, tokens.ErrUnknownUserCode) {
		return nil, nil, nil, nil, h.deviceCodeRefused(c, user, "That code is not valid. Check the code on your device and try again.")
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if rules {
		if err := h.deviceRules(c, sess, user, client, code); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	return sess, user, req, client, nil
}

// deviceRules are the checks of an authorization (protocol's
// continueAuthorization) that apply here: a second factor the client or
// the user's role demands is asked for on the spot (step-up, then back to
// this page), and a client that needs a verified address is refused for a
// user whose address is not. Disabled users never get here: CurrentUser
// ends their sessions.
func (h *Handlers) deviceRules(c echo.Context, sess *sessions.Session, user *users.User, client *clients.Client, code string) error {
	if mfa.Assurance(sess.AMR) < h.site.LevelNeeded(client, user, nil) {
		return c.Redirect(http.StatusSeeOther, mfaURL("", deviceNext(code)))
	}
	if client.RequireVerifiedEmail && !user.EmailVerified {
		return &plumbing.PageError{Status: http.StatusForbidden, Heading: "Confirm your email address first",
			Message: plumbing.ClientName(client) + " needs a verified email address. Confirm yours from your account page, then enter the code again."}
	}
	return nil
}

// deviceCodeRefused counts a wrong or stale code against the address and
// shows the form again with the problem.
func (h *Handlers) deviceCodeRefused(c echo.Context, user *users.User, problem string) error {
	h.site.RecordAs(c, user.Email, "device.code_failure", "", "")
	if _, err := h.throttle.FailGuess(c.Request().Context(), guessDevice, c.RealIP()); err != nil {
		return err
	}
	return h.renderDevice(c, http.StatusBadRequest, templates.DevicePage{Base: h.site.Base(c, "Connect a device"),
		Step: templates.DeviceEnter, UserEmail: user.Email, UserCode: h.formattedCode(c), Error: problem}, nil)
}

// formattedCode is the posted user code as XXXX-XXXX, or as typed (clipped)
// when it is not well-formed, to show it back.
func (h *Handlers) formattedCode(c echo.Context) string {
	raw := c.FormValue("user_code")
	if n, ok := tokens.NormalizeUserCode(raw); ok {
		return tokens.FormatUserCode(n)
	}
	if len(raw) > 32 || !plumbing.ValidText(raw) {
		return ""
	}
	return raw
}

func (h *Handlers) renderDevice(c echo.Context, status int, page templates.DevicePage, client *clients.Client) error {
	return plumbing.Render(c, status, plumbing.ClientPageCSP(client), func(w io.Writer) error {
		return h.site.Templates.Device(w, page)
	})
}
