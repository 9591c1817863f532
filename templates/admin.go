package templates

import (
	"html/template"
	"io"
	"math"
	"unicode/utf8"
)

// AdminBase is embedded in every admin page. Admin pages use a wider layout
// (admin_layout.html): a top bar with the "idp admin" wordmark, the section
// navigation, the admin's email and a link to /account.
type AdminBase struct {
	Base
	Section    string // "keys", "users", "clients", "resources", "upstreams", "audit": marks the nav link with aria-current="page"
	AdminEmail string
	Notice     string // success message, role="status"
	Error      string // failure message, role="alert"
	// NoSecondFactor warns, on every admin page, that this admin account
	// signs in with a password alone, linking to the account page.
	NoSecondFactor bool
}

// AdminKey is one signing key in the keys table. Times are preformatted;
// an empty time is shown as a dash.
type AdminKey struct {
	KID, Alg, State, Created, Activated, Retired, NotAfter string
	SignsFrom                                              string // when the key may (or could) first sign
	Revocable                                              bool   // shows a Revoke form
}

// AdminProcess is one running `idp serve` process and the policy it
// recorded. Durations are written for people (Duration).
type AdminProcess struct {
	Host, PID, Started                     string
	JWKSMaxAge, RotationInterval, TokenTTL string
}

// TimelineBar is one key's lifetime on a Timeline.
type TimelineBar struct {
	KID, State string  // state: next, active or retired; each has its own colour
	X, Width   float64 // in SVG user units of a viewBox 0 0 1000 H (already computed by the server)
	Label      string  // e.g. short kid + state: the bar's tooltip, and its text when the bar is wide enough
}

// Timeline is the key lifetimes of one algorithm, drawn as an inline SVG of
// one row per bar (H = 40 + 28*len(Bars)).
type Timeline struct {
	Alg                            string
	Bars                           []TimelineBar
	NowX                           float64 // x of the "now" line
	StartLabel, NowLabel, EndLabel string  // axis labels (dates)
}

// AdminKeysPage lists the signing keys. Its forms post csrf_token and alg to
// /admin/keys/rotate (one per Timeline) and csrf_token and kid to
// /admin/keys/revoke (one per Revocable key).
type AdminKeysPage struct {
	AdminBase
	Keys             []AdminKey
	Timelines        []Timeline
	JWKSMaxAge       string // e.g. "5 minutes": a next key is published at least this long before it signs
	RotationInterval string // e.g. "30 days"; empty hides the sentence
	// Processes are the running servers whose recorded settings the key
	// schedule follows; Warning says when they disagree.
	Processes []AdminProcess
	Warning   string
}

// AdminConfirmPage asks the admin to confirm an action. Its form posts
// csrf_token, the Fields and confirm=yes to Action.
type AdminConfirmPage struct {
	AdminBase
	Heading, Message string
	Action           string            // form action, e.g. /admin/keys/rotate; empty posts back to the current URL
	Fields           map[string]string // hidden inputs, sorted by key (csrf_token and confirm are skipped)
	ConfirmLabel     string            // button text, e.g. "Rotate anyway"; empty: "Confirm"
	Danger           bool              // red confirm button
	CancelURL        string            // link back, e.g. /admin/keys; empty: /admin
	// Password adds a required new-password field named password to the
	// form, so a password is typed on the confirmation itself and never
	// carried through a page.
	Password bool
}

// AdminUser is one row of the users table. Factors lists the second
// factors set up, comma separated ("passkey, totp").
type AdminUser struct {
	ID, Email, Name, Roles, Created, Factors string
	Disabled, Locked                         bool
}

// AdminUsersPage lists one page of users matching Query. Its forms get
// /admin/users with q, and post csrf_token, email, name, password and
// roles (comma separated) to /admin/users. Each row links to
// /admin/users/{ID}.
type AdminUsersPage struct {
	AdminBase
	Users []AdminUser
	Query string
	// Showing is e.g. "51–100 of 230"; empty when nothing matched.
	Showing string
	// PrevURL and NextURL link the neighbouring pages; empty at the ends.
	PrevURL, NextURL string
	// Invite offers the invitation form (csrf_token, email, name, roles
	// to /admin/users/invite): mail is on.
	Invite bool
}

// AdminSession is one of a user's live sessions on their admin page.
type AdminSession struct {
	ID, Created, LastSeen, Expires, IP, Agent string
	Current                                   bool // the admin's own browser
}

// AdminGrant is one of a user's offline grants on their admin page.
type AdminGrant struct {
	ID, ClientID, Created, LastUsed, IP, Agent string
}

// AdminPasskey is one of a user's passkeys on their admin page.
type AdminPasskey struct {
	Name, AAGUID, Created, LastUsed string
	Synced                          bool
}

// AdminUserPage is one user: profile, status, sessions and grants, second
// factors. Its forms post csrf_token (and the named fields) to
// /admin/users/{ID}/…: profile (name, roles comma separated), disable,
// enable, password, unlock, sessions/end (id), grants/revoke (id),
// sign-out, reset-mfa.
type AdminUserPage struct {
	AdminBase
	ID, Email, Name, Roles, Created string
	Disabled                        bool
	Self                            bool // the admin's own account: no disable button
	// Locked says failed sign-ins throttle the account until LockedUntil;
	// Failures counts the recent ones.
	Locked      bool
	LockedUntil string
	Failures    int
	Sessions    []AdminSession
	Grants      []AdminGrant
	Passkeys    []AdminPasskey
	// TOTP says an authenticator app is set up, confirmed at
	// TOTPConfirmed, last used at TOTPLastUsed.
	TOTP                        bool
	TOTPConfirmed, TOTPLastUsed string
	RecoveryLeft, RecoveryTotal int
	// AuditURL lists the events about this user.
	AuditURL string
	// SendReset offers "Send a password reset" (csrf_token to
	// /admin/users/{id}/send-reset): mail is on.
	SendReset bool
}

// AdminClient is one row of the clients table. The list fields are
// preformatted (space or comma separated).
type AdminClient struct {
	ID, Name, Type, Alg, Grants, Scopes, RedirectURIs, Created, Registration string
	Trusted, RequireMFA                                                      bool
}

// AdminClientPage is one client's registration, as a form posting to
// /admin/clients/{id}: csrf_token, name, logo_uri, client_uri,
// policy_uri, tos_uri, contacts, redirect_uris and
// post_logout_redirect_uris (one per line), scopes (space separated),
// signing_alg, application_type, token_endpoint_auth_method (confidential
// clients), default_max_age (seconds), grant_type (repeated), trusted=1,
// require_mfa=1, require_auth_time=1,
// require_pushed_authorization_requests=1, backchannel_logout_uri,
// frontchannel_logout_uri, backchannel_logout_session_required=1,
// frontchannel_logout_session_required=1, dpop_bound_access_tokens=1; and, for a confidential client, a
// form posting csrf_token to /admin/clients/{id}/secret.
type AdminClientPage struct {
	AdminBase
	ID, Name, Type, Registration, Created, Alg, Scopes                 string
	LogoURI, ClientURI, PolicyURI, TOSURI, ApplicationType             string
	Contacts, RedirectURIs, PostLogoutRedirectURIs, AuthMethodSetting  string
	DefaultMaxAge                                                      int
	Public, Trusted, RequireMFA, RequireAuthTime, RequireVerifiedEmail bool
	GrantCode, GrantRefresh, GrantCC                                   bool
	RequirePAR                                                         bool
	RequireDPoP                                                        bool   // dpop_bound_access_tokens (RFC 9449 §5.2)
	NewSecret                                                          string // shown once after a regeneration
	// Back- and front-channel logout settings.
	BackchannelLogoutURI, FrontchannelLogoutURI                         string
	BackchannelLogoutSessionRequired, FrontchannelLogoutSessionRequired bool

	// DefaultResource is the registered resource (URI) whose tokens the
	// client gets when a request names none; empty for none.
	DefaultResource string
}

// AdminClient renders one client's page.
func (s *Set) AdminClient(w io.Writer, p AdminClientPage) error {
	return s.render(w, "admin_client", p)
}

// AdminClientsPage lists the clients. Its forms post csrf_token and id to
// /admin/clients/delete, and to /admin/clients: csrf_token, id, name,
// redirect_uris and post_logout_redirect_uris (one per line), public=1,
// trusted=1, signing_alg (RS256 or ES256), grant_type (repeated) and scopes
// (space separated).
type AdminClientsPage struct {
	AdminBase
	Clients     []AdminClient
	NewClientID string // with NewSecret: the client just created
	NewSecret   string // shown once, in a box above the table
	// NewRegistrationToken is an initial access token just made, shown
	// once; the form that makes one posts csrf_token, ttl_hours and uses to
	// /admin/clients/registration-tokens. Registration says the mode.
	NewRegistrationToken *AdminRegistrationToken
	Registration         string
}

// AdminRegistrationToken is an initial access token for the registration
// endpoint, shown once.
type AdminRegistrationToken struct {
	Token, Expires string
	Uses           int
}

// AdminAuditEvent is one row of the audit log. At is preformatted.
type AdminAuditEvent struct {
	At, Actor, Action, Target, Via, IP, Detail string
}

// AdminAuditPage lists audit events, newest first, filtered by the form
// it holds: a GET of /admin/audit with actor, subject, kind, from and to
// (datetime-local values, UTC).
type AdminAuditPage struct {
	AdminBase
	Events                         []AdminAuditEvent
	Actor, Subject, Kind, From, To string
	// OlderURL and NewerURL link the neighbouring pages, ExportURL the
	// filtered events as JSON lines; NewestURL the first page.
	OlderURL, NewerURL, NewestURL, ExportURL string
}

// AdminKeys renders the signing keys page.
func (s *Set) AdminKeys(w io.Writer, p AdminKeysPage) error { return s.render(w, "admin_keys", p) }

// AdminConfirm renders a confirmation form for an admin action.
func (s *Set) AdminConfirm(w io.Writer, p AdminConfirmPage) error {
	return s.render(w, "admin_confirm", p)
}

// AdminUsers renders the users page.
func (s *Set) AdminUsers(w io.Writer, p AdminUsersPage) error { return s.render(w, "admin_users", p) }

// AdminUserDetail renders one user's page.
func (s *Set) AdminUserDetail(w io.Writer, p AdminUserPage) error {
	return s.render(w, "admin_user", p)
}

// AdminClients renders the clients page.
func (s *Set) AdminClients(w io.Writer, p AdminClientsPage) error {
	return s.render(w, "admin_clients", p)
}

// AdminAudit renders the audit log page.
func (s *Set) AdminAudit(w io.Writer, p AdminAuditPage) error { return s.render(w, "admin_audit", p) }

// funcs are the helpers every page may call. They only compute layout:
// data arrives formatted, and all escaping stays with html/template.
var funcs = template.FuncMap{
	"chart":      chart,
	"stateClass": stateClass,
}

// stateClass maps a key state to the suffix of its CSS classes (bar-*,
// badge-*), so that an unexpected state cannot invent a class name.
func stateClass(state string) string {
	switch state {
	case "next", "active", "retired", "revoked":
		return state
	}
	return "other"
}

// Timeline geometry, in SVG user units. The server computes the horizontal
// positions; the vertical layout lives here, so the template stays free of
// arithmetic.
const (
	chartWidth    = 1000.0
	chartTop      = 18   // room above the rows for the "now" label
	chartRow      = 28   // height of one row
	chartBar      = 20   // height of a bar inside its row
	chartCharW    = 7.0  // rough width of one character at the 12-unit label size
	chartMinInner = 120  // a bar wider than this may carry its label inside
	chartLabelGap = 8    // between a bar and a label drawn beside it
	chartEdgeGap  = 170  // the now date moves to the top when this close to an edge
	chartNowGap   = 30.0 // the "now" text anchors at its line's side when this close to an edge
)

// chartView is a Timeline with its vertical layout worked out.
type chartView struct {
	Timeline
	Height     int     // H of the viewBox: 40 + 28*len(Bars)
	RowsBottom int     // y where the last row ends
	AxisY      int     // y of the axis line
	AxisTextY  int     // baseline of the axis labels
	EmptyY     int     // baseline of the "no keys" text
	Now        float64 // NowX clamped to the chart
	NowAnchor  string  // text-anchor of the "now" text
	NowOnAxis  bool    // NowLabel is drawn on the axis; otherwise beside "now" at the top
	Rows       []barView
}

// barView is one bar with its row's position and its label placement.
type barView struct {
	TimelineBar
	Class       string  // next, active, retired or other
	Y, MidY     int     // top and middle of the bar
	TextY       int     // baseline of its label
	BarX, BarW  float64 // X and Width clamped to the chart
	LabelX      float64 // x of the label text
	LabelAnchor string  // start or end
	LabelInside bool    // drawn on the bar, in the bar's text colour
	ShowLabel   bool    // false when there is no label, or no room for it
}

// chart lays out t for the timeline SVG.
func chart(t Timeline) chartView {
	n := len(t.Bars)
	v := chartView{
		Timeline:   t,
		Height:     40 + chartRow*n,
		RowsBottom: chartTop + chartRow*n,
		Now:        clampX(t.NowX),
	}
	v.AxisY = v.RowsBottom + 2
	v.AxisTextY = v.Height - 4
	v.EmptyY = chartTop + 14
	switch {
	case v.Now < chartNowGap:
		v.NowAnchor = "start"
	case v.Now > chartWidth-chartNowGap:
		v.NowAnchor = "end"
	default:
		v.NowAnchor = "middle"
	}
	v.NowOnAxis = v.Now >= chartEdgeGap && v.Now <= chartWidth-chartEdgeGap
	for i, b := range t.Bars {
		r := barView{TimelineBar: b, Class: stateClass(b.State), Y: chartTop + chartRow*i + (chartRow-chartBar)/2}
		r.MidY, r.TextY = r.Y+chartBar/2, r.Y+14
		r.BarX = clampX(b.X)
		r.BarW = round2(math.Max(0, clampX(nonNaN(b.X)+nonNaN(b.Width))-r.BarX))
		need := chartCharW*float64(utf8.RuneCountInString(b.Label)) + 2*chartLabelGap
		r.ShowLabel = b.Label != ""
		switch {
		case r.BarW > chartMinInner && need <= r.BarW:
			r.LabelInside, r.LabelX, r.LabelAnchor = true, round2(r.BarX+chartLabelGap+2), "start"
		case r.BarX+r.BarW+need <= chartWidth:
			r.LabelX, r.LabelAnchor = round2(r.BarX+r.BarW+chartLabelGap), "start"
		case r.BarX-need >= 0:
			r.LabelX, r.LabelAnchor = round2(r.BarX-chartLabelGap), "end"
		default:
			r.ShowLabel = false // the tooltip still names it
		}
		v.Rows = append(v.Rows, r)
	}
	return v
}

// clampX keeps x inside the chart, rounded to two decimals.
func clampX(x float64) float64 { return round2(math.Min(chartWidth, math.Max(0, nonNaN(x)))) }

func nonNaN(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
