package templates

import "io"

// The steps of the upstream link page (confirm-to-link and unlink, issue
// #18).
const (
	// LinkSignIn: a first sign-in through Upstream found an account with
	// Email that may not be linked automatically; a link to SignInURL (the
	// sign-in page, the pending request kept) lets its owner sign in and
	// confirm.
	LinkSignIn = "signin"
	// LinkConfirm: the owner signed in; a form posting csrf_token, req,
	// next and decision=connect|skip to /login/link.
	LinkConfirm = "confirm"
	// LinkRefused: nothing was linked, Problem says why; a form posting
	// csrf_token, req, next and decision=skip to /login/link continues.
	LinkRefused = "refused"
	// LinkUnlink: the account page's unlink, confirmed by a form posting
	// csrf_token, upstream, sub and confirm=yes to /account/upstreams/unlink.
	LinkUnlink = "unlink"
)

// UpstreamLinkPage asks a person to connect (or disconnect) an account at
// an upstream provider to their idp account.
type UpstreamLinkPage struct {
	Base
	Step string
	// Upstream is the upstream's display name; Email the upstream
	// account's address; UserEmail the idp account signed in.
	Upstream, Email, UserEmail string
	// SignInURL is the sign-in page (LinkSignIn).
	SignInURL string
	// RequestID and Next carry the pending sign-in across the forms.
	RequestID, Next string
	// Problem says in plain words why nothing was linked (LinkRefused).
	Problem string
	// UpstreamID and Subject name the link to remove (LinkUnlink).
	UpstreamID, Subject string
}

// UpstreamLink renders the upstream link page.
func (s *Set) UpstreamLink(w io.Writer, p UpstreamLinkPage) error {
	return s.render(w, "upstream_link", p)
}
