package pages

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/server/plumbing"
	"idp/sessions"
	"idp/templates"
	"idp/upstreams"
	"idp/users"
)

// Confirm-to-link and unlink (issue #18). A first upstream sign-in whose
// email belongs to an account that may not be linked automatically leaves
// a pending link's token in a cookie (pendingLink); whenever a sign-in
// then completes in that browser (offerLink, called where every sign-in
// ends), the person is asked to confirm, and LinkDecision makes the link
// or drops it before the sign-in goes on as it would have.

// pendingLink answers an upstream sign-in that found an existing account:
// the browser keeps the pending link's token and is told to sign in to
// that account to connect it. Nothing is linked yet.
func (h *Handlers) pendingLink(c echo.Context, id, name string, res *upstreams.Result, lp *upstreams.LinkPending) error {
	h.noteUpstreamFailure(c, id, res, lp)
	h.site.SetCookie(c, plumbing.CookieUpstreamLink, lp.Token, upstreams.PendingLinkTTL)
	signIn := loginURL(res.RequestID)
	if res.RequestID == "" && safeNext(res.Next) != "" {
		signIn = plumbing.PathLogin + "?next=" + url.QueryEscape(safeNext(res.Next))
	}
	page := templates.UpstreamLinkPage{Base: h.site.Base(c, "Connect your "+name+" account"), Step: templates.LinkSignIn,
		Upstream: name, Email: lp.Email, SignInURL: signIn}
	// 409: the sign-in did not happen, because of an account that exists.
	return plumbing.Render(c, http.StatusConflict, plumbing.HTMLCSP(), func(w io.Writer) error {
		return h.site.Templates.UpstreamLink(w, page)
	})
}

// offerLink is the hook at the end of every completed sign-in (password,
// second factor, passkey, upstream): when the browser holds a pending
// link, it shows the confirm page (or says why nothing will be linked)
// instead of going on, and reports true. Without one it does nothing.
func (h *Handlers) offerLink(c echo.Context, reqID, next string, sess *sessions.Session, user *users.User) (bool, error) {
	token := h.site.Cookie(c, plumbing.CookieUpstreamLink)
	if token == "" || h.cfg.Upstreams == nil {
		return false, nil
	}
	ctx := c.Request().Context()
	p, err := h.cfg.Upstreams.Pending(ctx, token)
	if err != nil && !errors.Is(err, upstreams.ErrNoPendingLink) {
		return true, err
	}
	page := templates.UpstreamLinkPage{Step: templates.LinkConfirm, UserEmail: user.Email, RequestID: reqID, Next: safeNext(next)}
	switch {
	case err != nil:
		h.site.SetCookie(c, plumbing.CookieUpstreamLink, "", -1)
		h.site.Log.Info("pending upstream link not found", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "error", err.Error())
		page.Step, page.Problem = templates.LinkRefused, linkProblem(err, "", "")
	case p.UserID != user.ID:
		// The person signed in to another account: the link was for the
		// account with the upstream's email, so it is dropped, never moved.
		h.site.SetCookie(c, plumbing.CookieUpstreamLink, "", -1)
		if err := h.cfg.Upstreams.DropPendingLink(ctx, token); err != nil {
			return true, err
		}
		h.site.Log.Info("pending upstream link dropped: another account signed in", "request_id", plumbing.RequestIDOf(c),
			"user", user.ID, "upstream", p.Upstream.ID)
		page.Step, page.Upstream = templates.LinkRefused, p.Upstream.Name
		page.Problem = linkProblem(upstreams.ErrOtherAccount, p.Upstream.Name, p.Email)
	case sess.AuthTime.Before(p.CreatedAt):
		// Not a sign-in made for this link (an older session went on):
		// leave the pending link for a real one.
		return false, nil
	default:
		page.Upstream, page.Email = p.Upstream.Name, p.Email
	}
	return true, h.renderLinkPage(c, http.StatusOK, page)
}

// renderLinkPage writes the confirm or refusal page. Its form may end in
// a redirect to the pending request's client, so that client's
// redirect_uri is a form target of the page's CSP, as on the sign-in page.
func (h *Handlers) renderLinkPage(c echo.Context, status int, page templates.UpstreamLinkPage) error {
	page.Base = h.site.Base(c, "Connect your account")
	lc, err := h.loadRequest(c, page.RequestID)
	if err != nil {
		return err
	}
	var targets []string
	if lc.req != nil {
		targets = append(targets, lc.req.RedirectURI)
	}
	return plumbing.Render(c, status, plumbing.ClientPageCSP(lc.client, targets...), func(w io.Writer) error {
		return h.site.Templates.UpstreamLink(w, page)
	})
}

// LinkDecision is the confirm page's form: decision=connect links the
// pending upstream account to the account signed in (audited
// upstream.link), anything else drops it; then the sign-in goes on to req
// or next exactly as it would have without the question.
func (h *Handlers) LinkDecision(c echo.Context) error {
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	reqID, next := c.FormValue("req"), safeNext(c.FormValue("next"))
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	if user == nil || h.cfg.Upstreams == nil {
		return c.Redirect(http.StatusSeeOther, loginURL(reqID))
	}
	ctx := c.Request().Context()
	token := h.site.Cookie(c, plumbing.CookieUpstreamLink)
	h.site.SetCookie(c, plumbing.CookieUpstreamLink, "", -1)
	if c.FormValue("decision") != "connect" {
		if err := h.cfg.Upstreams.DropPendingLink(ctx, token); err != nil {
			return err
		}
		return h.proceed(c, reqID, next, sess, user)
	}
	l, up, err := h.cfg.Upstreams.ConfirmLink(ctx, token, user.ID, sess.AuthTime)
	if err != nil {
		name := ""
		if up != nil {
			name = up.Name
		}
		if !errors.Is(err, upstreams.ErrNoPendingLink) && !errors.Is(err, upstreams.ErrOtherAccount) &&
			!errors.Is(err, upstreams.ErrStaleSignIn) && !errors.Is(err, upstreams.ErrAlreadyLinked) {
			return err
		}
		h.site.Log.Info("upstream link not made", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "error", err.Error())
		page := templates.UpstreamLinkPage{Step: templates.LinkRefused, Upstream: name, UserEmail: user.Email,
			RequestID: reqID, Next: next, Problem: linkProblem(err, name, "")}
		return h.renderLinkPage(c, http.StatusConflict, page)
	}
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	h.site.Record(c, "upstream.link", user.ID, "upstream="+l.UpstreamID)
	h.site.Log.Info("upstream account linked", "request_id", plumbing.RequestIDOf(c), "user", user.ID, "upstream", up.ID)
	return h.proceed(c, reqID, next, sess, user)
}

// linkProblem says in plain words why nothing was linked.
func linkProblem(err error, name, email string) string {
	if name == "" {
		name = "other"
	}
	switch {
	case errors.Is(err, upstreams.ErrOtherAccount):
		s := "You signed in to another account than the one with "
		if email == "" {
			s = "You signed in to another account than the one with that address"
		} else {
			s += email
		}
		return s + ", so your " + name + " account was not connected to it."
	case errors.Is(err, upstreams.ErrStaleSignIn):
		return "You did not sign in again after signing in with " + name + ", so your " + name + " account was not connected."
	case errors.Is(err, upstreams.ErrAlreadyLinked):
		return "Your " + name + " account is already connected to an account here, so nothing was changed."
	}
	return "The request to connect your " + name + " account has expired or was already used, so nothing was connected. " +
		"To connect it, sign in with it again."
}

// linksSection fills the account page's connected accounts. Last marks
// the one link that is the user's only way to sign in.
func (h *Handlers) linksSection(c echo.Context, user *users.User, page *templates.AccountPage) error {
	if h.cfg.Upstreams == nil {
		return nil
	}
	ctx := c.Request().Context()
	links, err := h.cfg.Upstreams.Store().LinksOf(ctx, user.ID)
	if err != nil || len(links) == 0 {
		return err
	}
	other, err := h.otherWaysIn(c, user)
	if err != nil {
		return err
	}
	for _, l := range links {
		name := l.UpstreamID
		if u, err := h.cfg.Upstreams.Store().ByID(ctx, l.UpstreamID); err == nil {
			name = u.Name
		}
		page.Links = append(page.Links, templates.AccountLink{UpstreamID: l.UpstreamID, Subject: l.Subject, Upstream: name,
			Email: l.Email, Created: l.CreatedAt.Format(accountTime), LastUsed: l.LastUsedAt.Format(accountTime),
			Last: !other && len(links) == 1})
	}
	return nil
}

// otherWaysIn reports whether user can sign in without any upstream: a
// password, or a passkey (which signs in on its own).
func (h *Handlers) otherWaysIn(c echo.Context, user *users.User) (bool, error) {
	if user.HasPassword() {
		return true, nil
	}
	f, err := h.site.MFA.Of(c.Request().Context(), user.ID)
	if err != nil {
		return false, err
	}
	return len(f.Passkeys) > 0, nil
}

// UnlinkUpstream removes one of the user's connected accounts, after a
// confirmation page (the form without confirm=yes shows it). The last way
// to sign in is refused. Audited upstream.unlink.
func (h *Handlers) UnlinkUpstream(c echo.Context) error {
	_, user, err := h.accountUser(c)
	if user == nil {
		return err
	}
	if h.cfg.Upstreams == nil {
		return echo.ErrNotFound
	}
	ctx := c.Request().Context()
	upID, sub := c.FormValue("upstream"), c.FormValue("sub")
	links, err := h.cfg.Upstreams.Store().LinksOf(ctx, user.ID)
	if err != nil {
		return err
	}
	var link *upstreams.Link
	for _, l := range links {
		if l.UpstreamID == upID && l.Subject == sub {
			link = l
		}
	}
	if link == nil {
		return &plumbing.PageError{Status: http.StatusNotFound, Heading: "This connected account was not found",
			Message: "It may have been disconnected already. Go back to your account page."}
	}
	name := link.UpstreamID
	if u, err := h.cfg.Upstreams.Store().ByID(ctx, link.UpstreamID); err == nil {
		name = u.Name
	}
	if c.FormValue("confirm") != "yes" {
		page := templates.UpstreamLinkPage{Base: h.site.Base(c, "Disconnect "+name), Step: templates.LinkUnlink,
			Upstream: name, Email: link.Email, UpstreamID: link.UpstreamID, Subject: link.Subject}
		return plumbing.Render(c, http.StatusOK, plumbing.HTMLCSP(), func(w io.Writer) error {
			return h.site.Templates.UpstreamLink(w, page)
		})
	}
	other, err := h.otherWaysIn(c, user)
	if err != nil {
		return err
	}
	err = h.cfg.Upstreams.Unlink(ctx, user.ID, link.UpstreamID, link.Subject, other)
	if errors.Is(err, upstreams.ErrLastWay) {
		return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=last-link")
	}
	if err != nil {
		return err
	}
	h.site.ActAs(c, user.Email, audit.ViaWeb)
	h.site.Record(c, "upstream.unlink", user.ID, "upstream="+link.UpstreamID)
	h.site.Log.Info("upstream account unlinked", slog.String("request_id", plumbing.RequestIDOf(c)),
		slog.String("user", user.ID), slog.String("upstream", link.UpstreamID))
	return c.Redirect(http.StatusSeeOther, plumbing.PathAccount+"?notice=unlinked")
}
