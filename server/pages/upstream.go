package pages

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/server/plumbing"
	"idp/templates"
	"idp/upstreams"
)

// AMRFederated is the amr value of a sign-in at an upstream provider
// (RFC 8176 §2 "fed": federated authentication).
const AMRFederated = "fed"

// upstreamButtons lists a "Continue with …" button per upstream, each
// carrying the pending request and the next page across.
func (h *Handlers) upstreamButtons(c echo.Context, reqID, next string) ([]templates.UpstreamButton, error) {
	if h.cfg.Upstreams == nil {
		return nil, nil
	}
	list, err := h.cfg.Upstreams.List(c.Request().Context())
	if err != nil {
		return nil, err
	}
	out := make([]templates.UpstreamButton, 0, len(list))
	for _, u := range list {
		q := url.Values{}
		if reqID != "" {
			q.Set("req", reqID)
		}
		if next != "" {
			q.Set("next", next)
		}
		link := plumbing.PathLogin + "/upstream/" + url.PathEscape(u.ID)
		if len(q) > 0 {
			link += "?" + q.Encode()
		}
		out = append(out, templates.UpstreamButton{ID: u.ID, Name: u.Name, URL: link})
	}
	return out, nil
}

// hintedUpstream is where an idp_hint naming an upstream sends the
// browser: straight to that upstream's sign-in, as if its button had been
// pressed. Any other hint is ignored.
func (h *Handlers) hintedUpstream(c echo.Context, reqID, hint string) (string, bool) {
	if hint == "" || h.cfg.Upstreams == nil {
		return "", false
	}
	if _, err := h.cfg.Upstreams.Store().ByID(c.Request().Context(), hint); err != nil {
		return "", false
	}
	return plumbing.PathLogin + "/upstream/" + url.PathEscape(hint) + "?req=" + url.QueryEscape(reqID), true
}

// realmUpstream is where a login_hint sends the browser when its email's
// domain belongs to an upstream (home realm discovery): the one upstream
// whose allowed domains list it. With none, or several, the person
// chooses on the sign-in page. The decision reads the domain only, never
// whether an account exists, so a client cannot learn that from where the
// browser goes.
func (h *Handlers) realmUpstream(c echo.Context, reqID, loginHint string) (string, bool) {
	at := strings.LastIndexByte(loginHint, '@')
	if h.cfg.Upstreams == nil || at < 1 || at == len(loginHint)-1 {
		return "", false
	}
	list, err := h.cfg.Upstreams.List(c.Request().Context())
	if err != nil {
		return "", false
	}
	var found *upstreams.Upstream
	for _, u := range list {
		if len(u.AllowedDomains) > 0 && u.DomainAllowed(loginHint) {
			if found != nil {
				return "", false
			}
			found = u
		}
	}
	if found == nil {
		return "", false
	}
	return h.hintedUpstream(c, reqID, found.ID)
}

// UpstreamStart sends the browser to upstream :id's authorization
// endpoint, for the pending request req (if any). The state comes back in
// a cookie of this browser's, so a response started in another browser
// (login CSRF, RFC 6749 §10.12) is refused.
func (h *Handlers) UpstreamStart(c echo.Context) error {
	if h.cfg.Upstreams == nil {
		return echo.ErrNotFound
	}
	id, reqID := c.Param("id"), c.QueryParam("req")
	if reqID != "" {
		if _, err := h.loadRequest(c, reqID); err != nil {
			return err
		}
	}
	st, err := h.cfg.Upstreams.Begin(c.Request().Context(), id, reqID, safeNext(c.QueryParam("next")))
	if err != nil {
		return h.upstreamFailed(c, id, "", err)
	}
	h.site.SetCookie(c, plumbing.CookieUpstream, st.State, upstreams.StateTTL)
	return c.Redirect(http.StatusSeeOther, st.URL)
}

// UpstreamCallback is upstream :id's redirect URI: it checks the
// response, signs the user in with amr fed and continues the pending
// request exactly as a password sign-in does.
func (h *Handlers) UpstreamCallback(c echo.Context) error {
	if h.cfg.Upstreams == nil {
		return echo.ErrNotFound
	}
	id := c.Param("id")
	state := h.site.Cookie(c, plumbing.CookieUpstream)
	h.site.SetCookie(c, plumbing.CookieUpstream, "", -1)
	res, err := h.cfg.Upstreams.Finish(c.Request().Context(), id, c.QueryParams(), state)
	name := id
	if res != nil && res.Upstream != nil {
		name = res.Upstream.Name
	}
	var pending *upstreams.LinkPending
	if errors.As(err, &pending) {
		return h.pendingLink(c, id, name, res, pending)
	}
	if err != nil {
		return h.upstreamFailed(c, id, name, err)
	}
	// amr is fed plus what the upstream says it did (RFC 8176): an
	// upstream trusted to say who someone is is trusted to say how they
	// proved it, so its mfa counts towards idp's own second-factor rules.
	sess, err := h.startSessionFrom(c, res.User, append([]string{AMRFederated}, res.AMR...), id, res.Subject)
	if err != nil {
		return err
	}
	detail := "amr=fed upstream=" + id
	switch {
	case res.Created:
		detail += " created"
	case res.Linked:
		detail += " linked"
	}
	h.site.Log.Info("signed in", "request_id", plumbing.RequestIDOf(c), "user", res.User.ID, "upstream", id)
	h.site.RecordAs(c, res.User.Email, "signin.success", res.User.ID, detail)
	return h.continueSignIn(c, res.RequestID, res.Next, sess, res.User)
}

// upstreamFailed logs why a sign-in through an upstream failed, for the
// operator, and tells the person in plain words. Nothing was created or
// linked.
func (h *Handlers) upstreamFailed(c echo.Context, id, name string, err error) error {
	if name == "" {
		name = id
	}
	h.noteUpstreamFailure(c, id, nil, err)
	pe := func(status int, heading, msg string) error {
		return &plumbing.PageError{Status: status, Heading: heading, Message: msg}
	}
	switch {
	case errors.Is(err, upstreams.ErrUnknown):
		return pe(http.StatusNotFound, "This sign-in option does not exist", "Go back to the sign-in page and choose another way to sign in.")
	case errors.Is(err, upstreams.ErrUnavailable):
		return pe(http.StatusBadGateway, "Signing in with "+name+" did not work",
			name+" did not answer as expected. Try again in a moment, or sign in another way.")
	case errors.Is(err, upstreams.ErrDenied):
		return pe(http.StatusForbidden, "Signing in with "+name+" was cancelled",
			"You did not finish signing in at "+name+". Return to the application and try again.")
	case errors.Is(err, upstreams.ErrForged):
		return pe(http.StatusBadRequest, "This sign-in could not be completed",
			"The answer from "+name+" does not belong to a sign-in started in this browser, or it has expired. Return to the application and start again.")
	case errors.Is(err, upstreams.ErrNotAllowed):
		return pe(http.StatusForbidden, "Your "+name+" account cannot sign in here",
			"Only accounts of the organisations this service is for may sign in. Ask your administrator if you think this is wrong.")
	case errors.Is(err, upstreams.ErrNoAccount):
		return pe(http.StatusForbidden, "You have no account here",
			"There is no account for you here, and signing in with "+name+" does not create one. Ask your administrator for an account.")
	case errors.Is(err, upstreams.ErrLinkRefused):
		return pe(http.StatusConflict, "An account with your email address already exists",
			"Sign in to that account with your password instead. Your "+name+" account was not connected to it automatically.")
	case errors.Is(err, upstreams.ErrDisabled):
		return pe(http.StatusForbidden, "This account is disabled", "Ask your administrator to enable it.")
	}
	return err
}

// noteUpstreamFailure tells the operator about a failed sign-in through
// upstream id: a log line, an audit signin.failure and a count in
// idp_upstream_failures_total. The metric is labelled only with the id of
// a configured upstream (res carries it when Finish got that far; else
// it is looked up), so a path naming no upstream grows no series.
func (h *Handlers) noteUpstreamFailure(c echo.Context, id string, res *upstreams.Result, err error) {
	h.site.Log.Warn("upstream sign-in failed", "request_id", plumbing.RequestIDOf(c), "upstream", id, "error", err.Error())
	if errors.Is(err, upstreams.ErrUnknown) {
		return
	}
	h.site.RecordAs(c, "", "signin.failure", "", "upstream="+id+" reason="+reason(err))
	if h.cfg.Metrics == nil {
		return
	}
	if res == nil || res.Upstream == nil {
		if _, err := h.cfg.Upstreams.Store().ByID(c.Request().Context(), id); err != nil {
			return
		}
	}
	h.cfg.Metrics.UpstreamFailed(id, reason(err))
}

// reason is the audit log's short word for a failed upstream sign-in.
func reason(err error) string {
	for _, r := range []struct {
		err  error
		word string
	}{{upstreams.ErrUnavailable, "unavailable"}, {upstreams.ErrDenied, "denied"}, {upstreams.ErrForged, "forged"},
		{upstreams.ErrNotAllowed, "not_allowed"}, {upstreams.ErrNoAccount, "no_account"},
		{upstreams.ErrLinkRefused, "link_refused"}, {upstreams.ErrDisabled, "disabled"}} {
		if errors.Is(err, r.err) {
			return r.word
		}
	}
	return "error"
}
