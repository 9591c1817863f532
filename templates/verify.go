package templates

import "io"

// The steps of the address verification page.
const (
	VerifyConfirm = "confirm" // a button that posts csrf_token and token to /login/verify
	VerifyInvalid = "invalid" // a link that cannot be used
	VerifyDone    = "done"    // the address is verified
	VerifyNeeded  = "needed"  // a client asks for a verified address first
	VerifyChange  = "change"  // a button that posts csrf_token and token to /account/email/confirm
	VerifyChanged = "changed" // the account moved to Email
)

// VerifyPage confirms an email address from a mailed link. The link's GET
// only shows the button, so a mail scanner that fetches links verifies
// nothing; the POST does it.
type VerifyPage struct {
	Base
	Step  string
	Email string // the address being confirmed
	Token string // hidden input name="token"
	// Step VerifyNeeded: ClientName needs a verified address before it gets
	// a code. Its forms post csrf_token and req to /login/verify-email
	// with action=send (a new link; only when MailOn) or action=continue.
	// Sent says a link was just queued; Problem why continuing failed.
	ClientName, RequestID, Problem string
	MailOn, Sent                   bool
}

// Verify renders the address verification page.
func (s *Set) Verify(w io.Writer, p VerifyPage) error { return s.render(w, "verify", p) }
