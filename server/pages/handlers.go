package pages

import (
	"time"

	"github.com/labstack/echo/v4"

	"idp/selfservice"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/throttle"
	"idp/upstreams"
	"idp/users"
)

// Authorizer is the protocol side of a pending authorization request, as
// the pages see it. A page names the request by its id alone and says what
// the user did; the Authorizer loads the request again and answers the
// browser in the same response (the next page, or the client's
// redirect_uri), so the hand-over adds no redirect. Package server wires
// it to the protocol package; pages never import protocol.
type Authorizer interface {
	// SignedIn continues request requestID after the user signed in for
	// it. sess is the session the sign-in just started: it is not in the
	// request's cookies yet.
	SignedIn(c echo.Context, requestID string, sess *sessions.Session, user *users.User) error
	// Consented answers request requestID with a code, once the user has
	// approved its scopes and the page has remembered them.
	Consented(c echo.Context, requestID string, sess *sessions.Session, user *users.User) error
	// Denied answers request requestID with access_denied (RFC 6749
	// §4.1.2.1).
	Denied(c echo.Context, requestID string) error
	// Resumed continues request requestID for the signed-in user after a
	// step that was not a sign-in (confirming the email address): every
	// check runs again, prompt=login and max_age included.
	Resumed(c echo.Context, requestID string, sess *sessions.Session, user *users.User) error
}

// Config is what the pages need beyond the shared site.
type Config struct {
	// SessionTTL is the lifetime of the SSO session a sign-in starts.
	SessionTTL time.Duration
	// SelfService is password reset by mailed link; nil or without mail,
	// the pages neither offer nor serve it.
	SelfService *selfservice.Service
	// Signup offers /signup (--signup open with mail); SignupDomains are
	// the email domains it accepts (none: any). InviteOnly says on the
	// sign-in page that accounts come by invitation.
	Signup        bool
	SignupDomains []string
	InviteOnly    bool
	// Upstreams are the other providers people may sign in with (issue
	// #18); nil: none.
	Upstreams *upstreams.Service
	// NoPasswordLogin hides the password form and refuses its posts.
	NoPasswordLogin bool
	// Metrics counts what the pages see fail; nil: nothing is counted.
	Metrics PageMetrics
}

// PageMetrics are the counters the pages feed (plumbing.Metrics has
// them).
type PageMetrics interface {
	// UpstreamFailed counts a failed sign-in through configured upstream
	// id, for one of plumbing.UpstreamFailureReasons.
	UpstreamFailed(id, reason string)
}

// Handlers serves the end-user pages: sign-in, consent and the account
// page, and the assets they share.
type Handlers struct {
	site     *plumbing.Site
	cfg      Config
	throttle *throttle.Throttle
	auth     Authorizer
}

// New returns the pages of site. th throttles failed sign-ins; auth takes
// a pending authorization request over once a page is done with it.
func New(site *plumbing.Site, cfg Config, th *throttle.Throttle, auth Authorizer) *Handlers {
	return &Handlers{site: site, cfg: cfg, throttle: th, auth: auth}
}
