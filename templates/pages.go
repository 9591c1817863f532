package templates

import (
	"html/template"
	"io"
)

// Base is embedded in every page.
type Base struct {
	Title     string // <title>; each page has a sensible default when empty
	CSRFToken string // hidden input name="csrf_token" in every form
	Issuer    string // shown small in the footer
}

// LoginPage is the sign-in form. It posts csrf_token, req, email and
// password to /login.
type LoginPage struct {
	Base
	ClientName string // "Sign in to continue to ClientName"; empty: "Sign in to your account"
	Client     ClientBrand
	RequestID  string // hidden input name="req"; empty outside an authorization request
	Email      string // prefilled email: the login_hint or the previous attempt
	Error      string // plain-words failure, shown in a role="alert" region above the form
	// Passkeys offers "Sign in with a passkey" (and the email field's
	// passkey autofill) through /static/webauthn.js.
	Passkeys bool
	// ResetPassword links "Forgot your password?" to /login/forgot (only
	// when mail is on).
	ResetPassword bool
	// SignUp links "Create an account" to /signup (--signup open);
	// InviteOnly says accounts come by invitation instead.
	SignUp, InviteOnly bool
	// Next is hidden input name="next": idp's own page to return to after
	// signing in outside an authorization request (the device page).
	Next string
	// Upstreams are the "Continue with Name" buttons, one per upstream
	// provider.
	Upstreams []UpstreamButton
	// NoPassword hides the email and password form (--password-login=false).
	NoPassword bool
}

// UpstreamButton starts a sign-in at an upstream provider.
type UpstreamButton struct {
	ID, Name string
	URL      string // /login/upstream/ID?req=…
}

// ClientBrand is how a client presents itself (RFC 7591 §2): its logo and
// links, checked when the client was registered. Logo is a template.URL
// because a data:image URI, which registration allows, is otherwise
// replaced by html/template; nothing else ever becomes one.
type ClientBrand struct {
	Logo                                 template.URL
	HomeURI, PolicyURI, TOSURI, HomeHost string
}

// ScopeLine is one requested permission, as shown on the consent page.
type ScopeLine struct {
	Name        string // the scope value, e.g. "email"; shown small
	Description string // plain words, e.g. "See your email address"
}

// ConsentPage asks the user to allow or deny a client (OIDC Core §3.1.2.4).
// It posts csrf_token, req and decision=allow|deny to /consent.
type ConsentPage struct {
	Base
	ClientName string
	ClientID   string
	Client     ClientBrand
	RequestID  string      // hidden input name="req"
	UserEmail  string      // "Signed in as …"
	Scopes     []ScopeLine // listed in plain words
}

// ErrorPage is shown for failures that must not redirect back to the client
// (RFC 6749 §4.1.2.1: an unknown client or an invalid redirect_uri), and for
// any other error a person, rather than a program, will read.
type ErrorPage struct {
	Base
	Status    int    // HTTP status; shown small when non-zero
	Heading   string // e.g. "This sign-in link is not valid"
	Message   string // plain words: what happened and what to do
	RequestID string // shown small as "Reference: …" for support
}

// SignedOutPage confirms that the session has ended.
type SignedOutPage struct {
	Base
	ClientName string // "You are signed out of ClientName." when set
	// FrontChannel are the front-channel logout URIs of the ended
	// session's clients, each loaded in a hidden iframe (OpenID Connect
	// Front-Channel Logout 1.0 §3); the page's CSP frames exactly their
	// origins.
	FrontChannel []string
	// Continue is the client's post_logout_redirect_uri when the page is
	// shown only so the iframes load before the user goes back.
	Continue string
}

// LogoutPage asks the user to confirm sign-out, for RP-initiated logout
// without a valid id_token_hint (OIDC RP-Initiated Logout §2). It posts
// csrf_token, the Fields and decision=logout|stay to /logout.
type LogoutPage struct {
	Base
	ClientName string
	// Fields are carried as hidden inputs (post_logout_redirect_uri, state,
	// client_id, …), rendered sorted by key.
	Fields map[string]string
}

// AccountSession is one signed-in session on the account page. Times are
// preformatted for display.
type AccountSession struct {
	ID, Created, LastSeen, IP, UserAgent string
	Current                              bool // the session of this request: "this device"
}

// AccountGrant is one app holding offline access (a refresh-token grant).
type AccountGrant struct {
	ID, Client, Created, LastUsed, IP, UserAgent string
}

// AccountPage is the signed-in user's self-service page. Its forms post to
// /account/sessions/revoke and /account/grants/revoke (csrf_token, id),
// /account/logout-all (csrf_token) and /logout (csrf_token, decision=logout).
type AccountPage struct {
	Base
	Email    string
	Name     string
	Roles    []string
	Sessions []AccountSession
	Grants   []AccountGrant
	IsAdmin  bool   // shows a link to /admin
	Notice   string // outcome of the last action, in a role="status" region

	// Password change: a form posting csrf_token, current_password (only
	// when PasswordNeedsCurrent), new_password, confirm_password and
	// end_others to /account/password; PasswordError says why the last
	// attempt was refused.
	PasswordNeedsCurrent bool
	PasswordError        string
	// Email change (when mail is on): a form posting csrf_token, email
	// and current_password (only when PasswordNeedsCurrent) to
	// /account/email; EmailError says why the last attempt was refused.
	EmailChange bool
	EmailError  string

	// Sign-in security. Its forms post csrf_token (and id) to
	// /account/security/passkeys/remove, /account/security/totp/remove,
	// /account/security/recovery and, through webauthn.js,
	// /account/security/enroll/passkey.
	Passkeys      []AccountPasskey
	TOTP          *AccountTOTP // nil: no authenticator app
	RecoveryLeft  int
	RecoveryTotal int
	HasFactor     bool
	MFARequired   bool // one of the user's roles demands a second factor
	CanAddPasskey bool // passkeys work under this issuer
	FactorEvents  []AccountEvent

	// Links are the accounts at upstream providers the user signs in
	// with; each has a form posting csrf_token, upstream and sub to
	// /account/upstreams/unlink, which asks to confirm.
	Links []AccountLink
}

// AccountLink is one linked upstream account. Times are preformatted;
// Last says it is the user's only way to sign in, so it cannot be removed.
type AccountLink struct {
	UpstreamID, Subject, Upstream, Email, Created, LastUsed string
	Last                                                    bool
}

// AccountPasskey is one registered passkey. Times are preformatted.
type AccountPasskey struct {
	ID, Name, AAGUID, Created, LastUsed string
	Synced                              bool
}

// AccountTOTP is the confirmed authenticator app.
type AccountTOTP struct{ Confirmed, LastUsed string }

// AccountEvent is one change to the user's factors, from the audit log.
type AccountEvent struct{ At, Text, Via string }

// MFAPage asks for a second factor or sets one up. Action is the prefix
// its forms post to (/login/mfa while signing in, /account/security from
// the account page): Action+"/totp" and "/recovery" (code),
// "/passkey" (handle, credential, via webauthn.js), "/enroll/totp"
// (code) and "/enroll/passkey" (name, handle, credential); every form
// carries csrf_token, req and next.
type MFAPage struct {
	Base
	Action     string
	RequestID  string
	Next       string
	ClientName string
	Reason     string // why a second factor is asked, in plain words
	Error      string
	Enroll     bool // no factor will do: the page sets one up
	TOTP       bool // offer a code from the authenticator app
	Passkey    bool // offer a passkey
	Recovery   bool // offer a recovery code
	// PasskeyEnroll offers registering a passkey; TOTPEnroll, when set,
	// shows a new authenticator app's QR code and key.
	PasskeyEnroll bool
	TOTPEnroll    *TOTPEnrollment
	CancelURL     string
}

// TOTPEnrollment is an authenticator app being set up: the key as text,
// its otpauth URI and the URI as a QR code (a data: PNG).
type TOTPEnrollment struct{ Secret, URI, QR string }

// RecoveryCodesPage shows a new set of recovery codes, once. Its form
// posts csrf_token, req and next to Action.
type RecoveryCodesPage struct {
	Base
	Codes     []string
	Action    string
	RequestID string
	Next      string
}

// MFA renders the second-factor page.
func (s *Set) MFA(w io.Writer, p MFAPage) error { return s.render(w, "mfa", p) }

// RecoveryCodes renders the page that shows new recovery codes.
func (s *Set) RecoveryCodes(w io.Writer, p RecoveryCodesPage) error {
	return s.render(w, "recovery", p)
}

// Login renders the sign-in page.
func (s *Set) Login(w io.Writer, p LoginPage) error { return s.render(w, "login", p) }

// Consent renders the consent page.
func (s *Set) Consent(w io.Writer, p ConsentPage) error { return s.render(w, "consent", p) }

// Error renders the error page. The caller sets the HTTP status itself.
func (s *Set) Error(w io.Writer, p ErrorPage) error { return s.render(w, "error", p) }

// SignedOut renders the signed-out confirmation.
func (s *Set) SignedOut(w io.Writer, p SignedOutPage) error { return s.render(w, "signedout", p) }

// Logout renders the sign-out confirmation form.
func (s *Set) Logout(w io.Writer, p LogoutPage) error { return s.render(w, "logout", p) }

// Account renders the account page.
func (s *Set) Account(w io.Writer, p AccountPage) error { return s.render(w, "account", p) }

// FormPostPage carries an authorization response to the client's
// redirect_uri with response_mode=form_post. It is the one page with a
// script: a single statement allowed by ScriptNonce in the response's CSP.
type FormPostPage struct {
	Base
	Action      string            // the client's redirect_uri
	Fields      map[string]string // code or error, state, iss; rendered sorted by key
	ScriptNonce string            // the CSP nonce of this response
}

// FormPost renders the auto-submitting form of the form_post response mode.
func (s *Set) FormPost(w io.Writer, p FormPostPage) error { return s.render(w, "formpost", p) }
