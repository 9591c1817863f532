package adminhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/server/plumbing"
	"idp/templates"
)

// userURL is the page of user id.
func userURL(id string) string { return "/admin/users/" + url.PathEscape(id) }

// errNoSuchUser is the page for an id that names no user.
var errNoSuchUser = &plumbing.PageError{Status: http.StatusNotFound, Heading: "No such user",
	Message: "There is no user with this id. It may have been deleted; search for them on the users page."}

// pageFail maps the admin layer's errors on a user's page: unknown ids are
// the 404 page, a refused input the page again with the reason.
func (h *Handlers) pageFail(c echo.Context, id string, err error) error {
	var invalid *admin.InvalidError
	switch {
	case errors.Is(err, admin.ErrNotFound):
		return errNoSuchUser
	case errors.As(err, &invalid):
		return h.renderUser(c, id, http.StatusBadRequest, joinLines(err.Error())+".")
	}
	return err
}

// UserPage shows one user: profile, sign-in status, sessions and grants,
// second factors, each with its actions.
func (h *Handlers) UserPage(c echo.Context) error {
	return h.renderUser(c, c.Param("id"), http.StatusOK, "")
}

func (h *Handlers) renderUser(c echo.Context, id string, status int, problem string) error {
	ctx := c.Request().Context()
	ref := admin.UserRef{ID: id}
	acc, err := h.admin.UserAccess(ctx, ref)
	if errors.Is(err, admin.ErrNotFound) {
		return errNoSuchUser
	}
	if err != nil {
		return err
	}
	f, err := h.admin.UserFactors(ctx, ref)
	if err != nil {
		return err
	}
	lock, err := h.admin.UserLock(ctx, ref)
	if err != nil {
		return err
	}
	u := acc.User
	page := templates.AdminUserPage{AdminBase: h.adminBase(c, "users", u.Email), ID: u.ID, Email: u.Email, Name: u.Name,
		Roles: strings.Join(u.Roles, ", "), Created: fmtTime(&u.Created), Disabled: u.Disabled,
		Self: u.ID == adminOf(c).ID, Locked: lock.Locked, LockedUntil: fmtTime(lock.Until), Failures: lock.Failures,
		TOTP: f.TOTP, TOTPConfirmed: fmtTime(f.TOTPConfirmed), TOTPLastUsed: fmtTime(f.TOTPLastUsed),
		RecoveryLeft: f.RecoveryLeft, RecoveryTotal: f.RecoveryTotal,
		AuditURL: "/admin/audit?" + url.Values{"subject": {u.ID}}.Encode(), SendReset: h.cfg.MailEnabled}
	page.Error = problem
	current, _ := c.Get(ctxSession).(string)
	for _, s := range acc.Sessions {
		page.Sessions = append(page.Sessions, templates.AdminSession{ID: s.ID, Created: fmtTime(&s.Created),
			LastSeen: fmtTime(&s.LastSeen), Expires: fmtTime(&s.Expires), IP: s.IP, Agent: s.Agent, Current: s.ID == current})
	}
	for _, g := range acc.Grants {
		page.Grants = append(page.Grants, templates.AdminGrant{ID: g.ID, ClientID: g.ClientID, Created: fmtTime(&g.Created),
			LastUsed: fmtTime(&g.LastUsed), IP: g.IP, Agent: g.Agent})
	}
	for _, p := range f.PasskeyList {
		page.Passkeys = append(page.Passkeys, templates.AdminPasskey{Name: p.Name, AAGUID: p.AAGUID,
			Created: fmtTime(&p.Created), LastUsed: fmtTime(p.LastUsed), Synced: p.Synced})
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminUserDetail(w, page) })
}

// done sends the admin back to the user's page with a notice.
func done(c echo.Context, id, notice string) error {
	return c.Redirect(http.StatusSeeOther, userURL(id)+"?notice="+notice)
}

// UpdateUserProfile saves the name and roles from the profile form.
func (h *Handlers) UpdateUserProfile(c echo.Context) error {
	id := c.Param("id")
	name, roles := c.FormValue("name"), splitRoles(c.FormValue("roles"))
	_, err := h.admin.UpdateUser(c.Request().Context(), actor(c), admin.UserRef{ID: id}, admin.UserUpdate{Name: &name, Roles: &roles})
	if err != nil {
		return h.pageFail(c, id, err)
	}
	return done(c, id, "user-updated")
}

// DisableUser asks for confirmation, then disables the user and ends
// everything they hold; never the admin's own account.
func (h *Handlers) DisableUser(c echo.Context) error { return h.disableUser(c, c.Param("id")) }

func (h *Handlers) disableUser(c echo.Context, id string) error {
	ctx := c.Request().Context()
	acc, err := h.admin.UserAccess(ctx, admin.UserRef{ID: id})
	if err != nil {
		return h.pageFail(c, id, err)
	}
	if id == adminOf(c).ID {
		return h.renderUser(c, id, http.StatusBadRequest, "You cannot disable your own account.")
	}
	if c.FormValue("confirm") != "yes" {
		return h.confirmUser(c, acc.User, "Disable "+acc.User.Email+"?",
			"They can no longer sign in, whatever the password. Their sessions end and their offline grants are revoked at once; enabling them later does not bring those back.",
			"/disable", nil, "Disable", true, false)
	}
	if _, err := h.admin.DisableUser(ctx, actor(c), admin.UserRef{ID: id}); err != nil {
		return h.pageFail(c, id, err)
	}
	return done(c, id, "user-disabled")
}

// EnableUser lets a disabled user sign in again (not destructive: no
// confirmation).
func (h *Handlers) EnableUser(c echo.Context) error {
	id := c.Param("id")
	if _, err := h.admin.EnableUser(c.Request().Context(), actor(c), admin.UserRef{ID: id}); err != nil {
		return h.pageFail(c, id, err)
	}
	return done(c, id, "user-enabled")
}

// UnlockUser forgets the failed sign-ins counted against the account.
func (h *Handlers) UnlockUser(c echo.Context) error {
	id := c.Param("id")
	if _, err := h.admin.UnlockUser(c.Request().Context(), actor(c), admin.UserRef{ID: id}); err != nil {
		return h.pageFail(c, id, err)
	}
	return done(c, id, "user-unlocked")
}

// SetUserPassword asks for the new password on the confirmation itself,
// then sets it. A refused password shows the confirmation again with the
// reason; the password is never written back into a page.
func (h *Handlers) SetUserPassword(c echo.Context) error {
	id := c.Param("id")
	ctx := c.Request().Context()
	acc, err := h.admin.UserAccess(ctx, admin.UserRef{ID: id})
	if err != nil {
		return h.pageFail(c, id, err)
	}
	const msg = "The new password works at once and the old one stops working. Their sessions and grants stay; end them below if the old password may be known to someone else."
	if c.FormValue("confirm") != "yes" {
		return h.confirmUser(c, acc.User, "Set a password for "+acc.User.Email+"?", msg, "/password", nil, "Set password", true, true)
	}
	err = h.admin.SetUserPassword(ctx, actor(c), admin.UserRef{ID: id}, c.FormValue("password"))
	var invalid *admin.InvalidError
	if errors.As(err, &invalid) {
		c.Set(ctxConfirmError, "Not set: "+err.Error()+".")
		return h.confirmUser(c, acc.User, "Set a password for "+acc.User.Email+"?", msg, "/password", nil, "Set password", true, true)
	}
	if err != nil {
		return h.pageFail(c, id, err)
	}
	return done(c, id, "password-set")
}

// confirmedAction is a destructive action on the user of the path: a
// confirmation page first (nothing changes), then run, whose notice the
// redirect to the user's page carries.
type confirmedAction struct {
	heading         string // with the user's email for %s
	message, suffix string
	label           string
	fields          map[string]string
	run             func(ctx context.Context, ref admin.UserRef) (notice string, err error)
}

func (h *Handlers) confirmThen(c echo.Context, a confirmedAction) error {
	id := c.Param("id")
	ctx := c.Request().Context()
	acc, err := h.admin.UserAccess(ctx, admin.UserRef{ID: id})
	if err != nil {
		return h.pageFail(c, id, err)
	}
	if c.FormValue("confirm") != "yes" {
		return h.confirmUser(c, acc.User, fmt.Sprintf(a.heading, acc.User.Email), a.message, a.suffix, a.fields, a.label, true, false)
	}
	notice, err := a.run(ctx, admin.UserRef{ID: id})
	if err != nil {
		return h.pageFail(c, id, err)
	}
	return done(c, id, notice)
}

// EndUserSession asks for confirmation, then ends one session.
func (h *Handlers) EndUserSession(c echo.Context) error {
	sid := c.FormValue("id")
	return h.confirmThen(c, confirmedAction{heading: "End this session of %s?",
		message: "That browser is signed out at once; the user can sign in again.", suffix: "/sessions/end",
		fields: map[string]string{"id": sid}, label: "End session",
		run: func(ctx context.Context, ref admin.UserRef) (string, error) {
			return gone(h.admin.EndSession(ctx, actor(c), ref, sid), "session-gone", "session-ended")
		}})
}

// RevokeUserGrant asks for confirmation, then revokes one offline grant.
func (h *Handlers) RevokeUserGrant(c echo.Context) error {
	gid := c.FormValue("id")
	return h.confirmThen(c, confirmedAction{heading: "Revoke this grant of %s?",
		message: "The application's refresh token and the access tokens minted from it stop working at once.",
		suffix:  "/grants/revoke", fields: map[string]string{"id": gid}, label: "Revoke grant",
		run: func(ctx context.Context, ref admin.UserRef) (string, error) {
			return gone(h.admin.RevokeGrant(ctx, actor(c), ref, gid), "grant-gone", "grant-revoked")
		}})
}

// gone names the outcome of ending something: already gone, done, or err.
func gone(err error, goneNotice, doneNotice string) (string, error) {
	switch {
	case errors.Is(err, admin.ErrNotFound):
		return goneNotice, nil
	case err != nil:
		return "", err
	}
	return doneNotice, nil
}

// SignOutUser asks for confirmation, then ends every session and grant.
func (h *Handlers) SignOutUser(c echo.Context) error {
	return h.confirmThen(c, confirmedAction{heading: "Sign %s out everywhere?",
		message: "Every session ends and every offline grant is revoked at once. The user can sign in again; disable them to stop that.",
		suffix:  "/sign-out", label: "End all",
		run: func(ctx context.Context, ref admin.UserRef) (string, error) {
			_, err := h.admin.EndAccess(ctx, actor(c), ref)
			return "signed-out", err
		}})
}

// ResetUserMFA asks for confirmation, then removes every second factor
// and ends the user's sessions.
func (h *Handlers) ResetUserMFA(c echo.Context) error {
	return h.confirmThen(c, confirmedAction{heading: "Reset the second factors of %s?",
		message: "Every passkey, the authenticator app and the recovery codes are removed, and their sessions end. Do this only once you are sure who is asking: whoever signs in next with the password sets up new factors.",
		suffix:  "/reset-mfa", label: "Reset second factors",
		run: func(ctx context.Context, ref admin.UserRef) (string, error) {
			removed, err := h.admin.ResetMFA(ctx, actor(c), ref)
			if !removed {
				return "nothing-changed", err
			}
			return "mfa-reset", err
		}})
}

const ctxConfirmError = "admin_confirm_error"

// confirmUser renders the confirmation of an action on user u, posting
// back to its page's path suffix.
func (h *Handlers) confirmUser(c echo.Context, u admin.User, heading, msg, suffix string, fields map[string]string,
	label string, danger, password bool) error {
	page := templates.AdminConfirmPage{AdminBase: h.adminBase(c, "users", heading), Heading: heading, Message: msg,
		Action: userURL(u.ID) + suffix, Fields: fields, ConfirmLabel: label, Danger: danger, CancelURL: userURL(u.ID),
		Password: password}
	status := http.StatusOK
	if e, _ := c.Get(ctxConfirmError).(string); e != "" {
		page.Error, status = e, http.StatusBadRequest
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminConfirm(w, page) })
}
