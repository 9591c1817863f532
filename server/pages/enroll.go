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

// Setting up a factor happens in two places: on the second-factor page
// while signing in (a policy demands one and the user has none; the
// factor just set up then counts for this sign-in) and from the account
// page (it does not: setting up is not signing in). Either way a user who
// already has a factor must have proven one in this session first, so a
// password alone never adds a factor to an account that has one.

// enrollFlow says where an enrollment happens.
type enrollFlow struct {
	prefix string // the forms' action prefix
	signIn bool   // the new factor counts for the current sign-in
}

var (
	signInEnroll  = enrollFlow{prefix: plumbing.PathLoginMFA, signIn: true}
	accountEnroll = enrollFlow{prefix: pathSecurity}
)

// pathSecurity prefixes the account page's factor actions.
const pathSecurity = plumbing.PathAccount + "/security"

// mayEnroll reports whether subj may add a factor now.
func mayEnroll(subj *mfaSubject, f mfa.Factors) bool {
	return subj.stepToken == "" && (!f.Any() || mfa.Assurance(subj.amr) >= mfa.LevelMFA)
}

// errProveFirst: the subject has a factor and has not proven one in this
// session, so may not add another yet.
var errProveFirst = errors.New("prove a second factor first")

// enrollSubject is mfaForm plus the enrollment rule (errProveFirst). A
// nil subject with a nil error means the browser was sent to sign in.
func (h *Handlers) enrollSubject(c echo.Context) (*mfaSubject, mfaTarget, mfa.Factors, error) {
	subj, t, err := h.mfaForm(c)
	if subj == nil {
		return nil, t, mfa.Factors{}, err
	}
	f, err := h.site.MFA.Of(c.Request().Context(), subj.user.ID)
	if err != nil {
		return nil, t, f, err
	}
	if !mayEnroll(subj, f) {
		return nil, t, f, errProveFirst
	}
	return subj, t, f, nil
}

// enrollForm is enrollSubject for a form post: a subject who may not
// enroll is sent to prove a factor first, then back.
func (h *Handlers) enrollForm(c echo.Context, flow enrollFlow) (*mfaSubject, mfaTarget, mfa.Factors, error) {
	subj, t, f, err := h.enrollSubject(c)
	if errors.Is(err, errProveFirst) {
		next := t.next
		if !flow.signIn {
			next = plumbing.PathAccount
		}
		return nil, t, f, c.Redirect(http.StatusSeeOther, mfaURL(t.reqID, next))
	}
	return subj, t, f, err
}

// EnrollTOTP confirms an authenticator app while signing in.
func (h *Handlers) EnrollTOTP(c echo.Context) error { return h.enrollTOTP(c, signInEnroll) }

// AccountEnrollTOTP confirms an authenticator app from the account page.
func (h *Handlers) AccountEnrollTOTP(c echo.Context) error { return h.enrollTOTP(c, accountEnroll) }

func (h *Handlers) enrollTOTP(c echo.Context, flow enrollFlow) error {
	subj, t, before, err := h.enrollForm(c, flow)
	if subj == nil {
		return err
	}
	ctx := c.Request().Context()
	err = h.site.MFA.ConfirmTOTP(ctx, subj.user.ID, c.FormValue("code"))
	switch {
	case errors.Is(err, mfa.ErrInvalidCode):
		if _, err := h.throttle.Fail(ctx, subj.user.Email, c.RealIP()); err != nil {
			return err
		}
		return h.renderEnroll(c, http.StatusUnauthorized, flow, subj, t, "That code is not right. Type the code the app shows now.")
	case errors.Is(err, mfa.ErrNotEnrolled):
		return h.renderEnroll(c, http.StatusConflict, flow, subj, t, "The set-up expired. Scan the new code below.")
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount)
	case err != nil:
		return err
	}
	h.site.RecordAs(c, subj.user.Email, "mfa.totp_added", subj.user.ID, "")
	return h.enrolled(c, flow, subj, t, before, []string{mfa.AMROTP})
}

// EnrollPasskeyOptions starts registering a passkey while signing in.
func (h *Handlers) EnrollPasskeyOptions(c echo.Context) error {
	return h.enrollPasskeyOptions(c, signInEnroll)
}

// AccountEnrollPasskeyOptions starts registering a passkey from the
// account page.
func (h *Handlers) AccountEnrollPasskeyOptions(c echo.Context) error {
	return h.enrollPasskeyOptions(c, accountEnroll)
}

func (h *Handlers) enrollPasskeyOptions(c echo.Context, _ enrollFlow) error {
	subj, _, _, err := h.enrollSubject(c)
	if errors.Is(err, errProveFirst) {
		return c.JSON(http.StatusForbidden, map[string]string{"error": "confirm it's you with your second factor first"})
	}
	if subj == nil {
		return err
	}
	if h.passkeysOff(c) {
		return nil
	}
	handle, opts, err := h.site.MFA.BeginRegistration(c.Request().Context(), subj.acct())
	if err != nil {
		return err
	}
	return ceremonyJSON(c, handle, opts)
}

// EnrollPasskey stores a passkey registered while signing in.
func (h *Handlers) EnrollPasskey(c echo.Context) error { return h.enrollPasskey(c, signInEnroll) }

// AccountEnrollPasskey stores a passkey registered from the account page.
func (h *Handlers) AccountEnrollPasskey(c echo.Context) error {
	return h.enrollPasskey(c, accountEnroll)
}

func (h *Handlers) enrollPasskey(c echo.Context, flow enrollFlow) error {
	subj, t, before, err := h.enrollForm(c, flow)
	if subj == nil {
		return err
	}
	p, err := h.site.MFA.FinishRegistration(c.Request().Context(), subj.acct(), c.FormValue("handle"),
		[]byte(c.FormValue("credential")), c.FormValue("name"))
	if errors.Is(err, mfa.ErrCeremony) {
		h.site.RecordAs(c, subj.user.Email, "mfa.failure", subj.user.ID, "factor=passkey-registration reason="+reasonOf(err))
		return h.renderEnroll(c, http.StatusBadRequest, flow, subj, t, "The passkey could not be added. Try again.")
	}
	if err != nil {
		return err
	}
	h.site.RecordAs(c, subj.user.Email, "mfa.passkey_added", subj.user.ID, "name="+p.Name+" aaguid="+p.AAGUID)
	method := mfa.AMRHardwareKey
	if p.Synced {
		method = mfa.AMRSoftwareKey
	}
	// Registration required user verification.
	return h.enrolled(c, flow, subj, t, before, []string{method, mfa.AMRUser})
}

// enrolled finishes an enrollment: the first factor of an account brings
// its recovery codes (shown once); while signing in the new factor counts
// for this sign-in.
func (h *Handlers) enrolled(c echo.Context, flow enrollFlow, subj *mfaSubject, t mfaTarget, before mfa.Factors, methods []string) error {
	ctx := c.Request().Context()
	if flow.signIn {
		if _, err := h.elevate(c, subj, methods); err != nil {
			return err
		}
	}
	if before.Any() {
		if flow.signIn {
			// The new cookie is not in this request: go on with the
			// session elevate left in subj.
			return h.continueTo(c, t, subj.sess, subj.user)
		}
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=factor-added")
	}
	codes, err := h.site.MFA.NewRecoveryCodes(ctx, subj.user.ID)
	if err != nil {
		return err
	}
	h.site.RecordAs(c, subj.user.Email, "mfa.recovery_generated", subj.user.ID, "")
	action := pathSecurity + "/done"
	if flow.signIn {
		action = plumbing.PathLoginMFA + "/continue"
	}
	return h.renderRecoveryCodes(c, codes, action, t)
}

// renderRecoveryCodes shows a new set of recovery codes.
func (h *Handlers) renderRecoveryCodes(c echo.Context, codes []string, action string, t mfaTarget) error {
	page := templates.RecoveryCodesPage{Base: h.site.Base(c, "Your recovery codes"), Codes: codes, Action: action,
		RequestID: t.reqID, Next: t.next}
	return plumbing.Render(c, http.StatusOK, plumbing.HTMLCSP(), func(w io.Writer) error {
		return h.site.Templates.RecoveryCodes(w, page)
	})
}

// renderEnroll shows an enrollment page again with a problem.
func (h *Handlers) renderEnroll(c echo.Context, status int, flow enrollFlow, subj *mfaSubject, t mfaTarget, problem string) error {
	if flow.signIn {
		return h.renderMFA(c, status, subj, t, problem)
	}
	return h.renderAccountTOTP(c, status, subj, problem)
}
