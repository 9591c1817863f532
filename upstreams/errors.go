package upstreams

import "errors"

// Why a sign-in through an upstream did not end in an idp session. The
// pages turn each into plain words; the wrapped detail is for the log
// only. Whatever the reason, nothing was created or linked.
var (
	// ErrUnavailable: the upstream could not be reached, its discovery or
	// token endpoint misbehaved, or it answered with an error.
	ErrUnavailable = errors.New("the upstream provider failed")
	// ErrDenied: the person (or the upstream) declined at the upstream
	// (an error in the authorization response, RFC 6749 §4.1.2.1).
	ErrDenied = errors.New("the upstream provider declined the sign-in")
	// ErrForged: the response does not belong to a sign-in this browser
	// started, or its ID token does not check out (state, nonce, iss,
	// aud, signature): a replay, a mix-up or a forgery.
	ErrForged = errors.New("the upstream response does not check out")
	// ErrNotAllowed: the upstream account is outside the allowed domains
	// or lacks the required group.
	ErrNotAllowed = errors.New("the upstream account is not allowed here")
	// ErrNoAccount: there is no idp account for this person and the
	// upstream does not create them (no --jit), or it gave no email.
	ErrNoAccount = errors.New("no account for this upstream identity")
	// ErrLinkRefused: an idp account has the email but may not be linked
	// automatically (no --link-by-email, or the email is not verified).
	ErrLinkRefused = errors.New("an account with this email exists and was not linked")
	// ErrDisabled: the linked idp account is disabled.
	ErrDisabled = errors.New("the account is disabled")
	// ErrRefused: asked again at an idp refresh (Check), the upstream no
	// longer vouches for the person (it refused idp's grant, or they no
	// longer pass the upstream's rules), so their refresh families end.
	ErrRefused = errors.New("the upstream provider no longer vouches for this account")
)

// errGrantRefused: the upstream's token endpoint answered invalid_grant;
// errUnauthorized: its userinfo or API answered 401 to idp's access token.
// Both mean "no" from the upstream rather than "not now".
var (
	errGrantRefused = errors.New("the upstream refused the grant")
	errUnauthorized = errors.New("the upstream refused the access token")
)
