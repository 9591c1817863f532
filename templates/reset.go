package templates

import "io"

// The steps of the password reset page.
const (
	ResetAsk     = "ask"     // the form asking for the email (posts csrf_token, email to /login/forgot)
	ResetSent    = "sent"    // the one answer to every request
	ResetChoose  = "choose"  // the new-password form (posts csrf_token, token, password, confirm to /login/reset)
	ResetInvalid = "invalid" // a link that cannot be used
	ResetDone    = "done"    // the password changed; every session ended
)

// ResetPage is every step of "Forgot your password?". Step is one of the
// Reset* constants.
type ResetPage struct {
	Base
	Step    string
	Email   string // the ask form's value after a refused attempt
	Token   string // hidden input name="token" of the choose form
	Error   string // plain-words problem, in a role="alert" region
	Minutes int    // how long a link works, said on the sent page
	// Invite makes the choose, invalid and done steps those of an
	// invitation: the form posts to /login/invite.
	Invite bool
}

// Reset renders the password reset page.
func (s *Set) Reset(w io.Writer, p ResetPage) error { return s.render(w, "reset", p) }

// SignupPage is the registration form (--signup open): it posts
// csrf_token, email, name, password and confirm to /signup. Sent shows the
// "check your email" answer every address gets; Domains names the email
// domains accepted, if limited.
type SignupPage struct {
	Base
	Email, Name, Error, Domains string
	Sent                        bool
}

// Signup renders the registration page.
func (s *Set) Signup(w io.Writer, p SignupPage) error { return s.render(w, "signup", p) }
