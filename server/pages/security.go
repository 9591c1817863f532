package pages

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/mfa"
	"idp/server/plumbing"
	"idp/templates"
)

// The account page's factor actions. Changing factors of an account that
// has one needs a session that proved one (else: prove it first, then
// come back); a role that demands a second factor keeps its last one.

// securitySubject is the signed-in subject of an account action, or a
// redirect: to sign in, or to prove a factor first.
func (h *Handlers) securitySubject(c echo.Context, form bool) (*mfaSubject, mfa.Factors, error) {
	if form {
		if err := h.site.CheckCSRF(c); err != nil {
			return nil, mfa.Factors{}, err
		}
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return nil, mfa.Factors{}, err
	}
	if sess == nil {
		return nil, mfa.Factors{}, c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
	}
	subj := &mfaSubject{user: user, sess: sess, sessToken: h.site.Cookie(c, plumbing.CookieSession), amr: sess.AMR}
	f, err := h.site.MFA.Of(c.Request().Context(), user.ID)
	if err != nil {
		return nil, f, err
	}
	if !mayEnroll(subj, f) {
		return nil, f, c.Redirect(http.StatusSeeOther, mfaURL("", plumbing.PathAccount))
	}
	return subj, f, nil
}

// AccountTOTPPage shows a new authenticator app's QR code.
func (h *Handlers) AccountTOTPPage(c echo.Context) error {
	subj, f, err := h.securitySubject(c, false)
	if subj == nil {
		return err
	}
	if f.TOTP != nil {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	}
	return h.renderAccountTOTP(c, http.StatusOK, subj, "")
}

// renderAccountTOTP renders the authenticator-app set-up of the account
// page.
func (h *Handlers) renderAccountTOTP(c echo.Context, status int, subj *mfaSubject, problem string) error {
	e, err := h.site.MFA.BeginTOTP(c.Request().Context(), subj.user.ID, subj.user.Email)
	if errors.Is(err, mfa.ErrAlreadyEnrolled) {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	}
	if err != nil {
		return err
	}
	page := templates.MFAPage{
		Base: h.site.Base(c, "Set up an authenticator app"), Action: pathSecurity, Enroll: true, Error: problem,
		Reason:     "Codes from the app will be asked for after your password.",
		TOTPEnroll: &templates.TOTPEnrollment{Secret: e.Secret, URI: e.URI, QR: e.QR}, CancelURL: plumbing.PathAccount,
	}
	return plumbing.Render(c, status, plumbing.HTMLCSP(), func(w io.Writer) error {
		return h.site.Templates.MFA(w, page)
	})
}

// RemovePasskey removes one of the user's passkeys.
func (h *Handlers) RemovePasskey(c echo.Context) error {
	subj, f, err := h.securitySubject(c, true)
	if subj == nil {
		return err
	}
	id := c.FormValue("id")
	name := ""
	for _, p := range f.Passkeys {
		if p.ID == id {
			name = p.Name
		}
	}
	if name == "" {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	}
	if f.TOTP == nil && len(f.Passkeys) == 1 && h.keepsLast(subj) {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=last-factor")
	}
	if err := h.site.MFA.RemovePasskey(c.Request().Context(), subj.user.ID, id); err != nil && !errors.Is(err, mfa.ErrNotEnrolled) {
		return err
	}
	h.site.RecordAs(c, subj.user.Email, "mfa.passkey_removed", subj.user.ID, "name="+name)
	return h.afterRemoval(c, subj, "passkey-removed")
}

// RemoveTOTP removes the user's authenticator app.
func (h *Handlers) RemoveTOTP(c echo.Context) error {
	subj, f, err := h.securitySubject(c, true)
	if subj == nil {
		return err
	}
	if f.TOTP == nil {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	}
	if len(f.Passkeys) == 0 && h.keepsLast(subj) {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=last-factor")
	}
	if err := h.site.MFA.RemoveTOTP(c.Request().Context(), subj.user.ID); err != nil && !errors.Is(err, mfa.ErrNotEnrolled) {
		return err
	}
	h.site.RecordAs(c, subj.user.Email, "mfa.totp_removed", subj.user.ID, "")
	return h.afterRemoval(c, subj, "totp-removed")
}

// keepsLast: the user's role demands a second factor, so the last one
// stays.
func (h *Handlers) keepsLast(subj *mfaSubject) bool {
	return mfa.RoleDemands(h.site.MFARequiredRoles, subj.user.Roles)
}

// afterRemoval drops the recovery codes with the last factor: they exist
// only beside one.
func (h *Handlers) afterRemoval(c echo.Context, subj *mfaSubject, notice string) error {
	ctx := c.Request().Context()
	f, err := h.site.MFA.Of(ctx, subj.user.ID)
	if err != nil {
		return err
	}
	if !f.Any() && f.RecoveryTotal > 0 {
		if _, err := h.site.MFA.Reset(ctx, subj.user.ID); err != nil {
			return err
		}
		h.site.RecordAs(c, subj.user.Email, "mfa.recovery_removed", subj.user.ID, "no factor left")
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice="+notice)
}

// NewRecoveryCodes replaces the user's recovery codes.
func (h *Handlers) NewRecoveryCodes(c echo.Context) error {
	subj, f, err := h.securitySubject(c, true)
	if subj == nil {
		return err
	}
	if !f.Any() {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	}
	codes, err := h.site.MFA.NewRecoveryCodes(c.Request().Context(), subj.user.ID)
	if err != nil {
		return err
	}
	h.site.RecordAs(c, subj.user.Email, "mfa.recovery_generated", subj.user.ID, "the old codes stopped working")
	return h.renderRecoveryCodes(c, codes, pathSecurity+"/done", mfaTarget{})
}

// SecurityDone returns to the account page after recovery codes were
// shown.
func (h *Handlers) SecurityDone(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=factor-added")
}
