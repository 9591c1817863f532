package server

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/db"
	"idp/keys"
	"idp/server/plumbing"
	"idp/templates"
	"idp/users"
)

const ctxAdmin = "admin_user"

// requireAdmin guards the /admin pages: signed-in users with role admin.
// Anonymous browsers are sent to sign in; everyone else gets a 403 page.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		_, user, err := s.site.CurrentUser(c)
		if err != nil {
			return err
		}
		if user == nil {
			return c.Redirect(http.StatusSeeOther, plumbing.PathLogin)
		}
		if !user.HasRole("admin") {
			return &plumbing.PageError{Status: http.StatusForbidden, Heading: "Administrators only",
				Message: "Your account cannot open the administration pages."}
		}
		if c.Request().Method == http.MethodPost {
			if err := s.site.CheckCSRF(c); err != nil {
				return err
			}
		}
		s.site.ActAs(c, user.Email, audit.ViaWeb)
		c.Set(ctxAdmin, user)
		return next(c)
	}
}

func adminOf(c echo.Context) *users.User {
	u, _ := c.Get(ctxAdmin).(*users.User)
	return u
}

// adminBase fills the shared admin page fields.
func (s *Server) adminBase(c echo.Context, section, title string) templates.AdminBase {
	return templates.AdminBase{Base: s.site.Base(c, title), Section: section, AdminEmail: adminOf(c).Email,
		Notice: adminNotice(c.QueryParam("notice"))}
}

// adminNotices maps the fixed notice codes of admin redirects to words, so
// no text from the URL is ever shown.
var adminNotices = map[string]string{
	"rotated":         "The key was rotated. Relying services see the new next key within the JWKS max-age.",
	"revoked":         "The key was revoked and left the JWKS.",
	"user-created":    "The user was created.",
	"user-disabled":   "The user was disabled; their sessions and grants were ended.",
	"client-deleted":  "The client was deleted.",
	"nothing-changed": "Nothing changed.",
}

// adminNotice returns the words for a notice code, or "".
func adminNotice(code string) string { return adminNotices[code] }

func (s *Server) renderAdmin(c echo.Context, status int, fn func(io.Writer) error) error {
	return plumbing.Render(c, status, plumbing.HTMLCSP(), fn)
}

func (s *Server) handleAdminKeys(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := s.deps.Keys.List(ctx)
	if err != nil {
		return err
	}
	ps, err := s.deps.Keys.Policies(ctx)
	if err != nil {
		return err
	}
	now := s.site.Now()
	// The sentence above the timeline states what the schedule follows:
	// the longest max-age of the running servers, this one included.
	maxAge := s.cfg.JWKSMaxAge
	page := templates.AdminKeysPage{
		AdminBase:        s.adminBase(c, "keys", "Signing keys"),
		RotationInterval: templates.Duration(s.cfg.KeyRotationInterval),
		Timelines:        timelines(list, now, s.cfg.KeyRotationInterval),
		Warning:          keys.Disagreement(ps, now),
	}
	for _, p := range ps {
		if !p.Live(now) {
			continue
		}
		maxAge = max(maxAge, p.JWKSMaxAge)
		page.Processes = append(page.Processes, templates.AdminProcess{
			Host: p.Host, PID: strconv.Itoa(p.PID), Started: fmtTime(&p.StartedAt),
			JWKSMaxAge: templates.Duration(p.JWKSMaxAge), RotationInterval: templates.Duration(p.RotationInterval),
			TokenTTL: templates.Duration(p.TokenTTL),
		})
	}
	page.JWKSMaxAge = templates.Duration(maxAge)
	for _, k := range list {
		page.Keys = append(page.Keys, templates.AdminKey{
			KID: k.KID, Alg: k.Alg, State: k.State, Created: fmtTime(&k.CreatedAt), Activated: fmtTime(k.ActivatedAt),
			SignsFrom: fmtTime(k.SignsFrom), Retired: fmtTime(k.RetiredAt), NotAfter: fmtTime(k.NotAfter),
			Revocable: k.State != keys.StateRevoked,
		})
	}
	return s.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return s.deps.Templates.AdminKeys(w, page) })
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// handleAdminRotate asks for confirmation, then rotates. The confirmation
// warns, with the safe time, when rotating now could break relying
// services; confirming that warning is the web's --force.
func (s *Server) handleAdminRotate(c echo.Context) error {
	alg := c.FormValue("alg")
	if alg != keys.RS256 && alg != keys.ES256 {
		return &plumbing.PageError{Status: http.StatusBadRequest, Heading: "Unknown algorithm", Message: "Choose RS256 or ES256."}
	}
	ctx := c.Request().Context()
	if c.FormValue("confirm") != "yes" {
		msg := "The published next " + alg + " key becomes active and signs new tokens; the active key is retired " +
			"and stays in the JWKS until every token it signed has expired; a fresh next key is published."
		fields := map[string]string{"alg": alg}
		label, danger := "Rotate "+alg, false
		safeAt, err := s.deps.Keys.SafeAt(ctx, alg)
		if err != nil {
			return err
		}
		if now := s.site.Now(); now.Before(safeAt) {
			msg = "The next " + alg + " key has not been published long enough: rotating before " +
				safeAt.UTC().Format("2006-01-02 15:04:05 UTC") + " (in " + templates.Duration(safeAt.Sub(now)) +
				") could make relying services that cached the JWKS reject new tokens until they refetch it."
			fields["force"], label, danger = "1", "Rotate anyway", true
		}
		return s.confirm(c, "Rotate the "+alg+" signing key?", msg, "/admin/keys/rotate", fields, label, danger)
	}
	_, err := s.deps.Keys.Rotate(ctx, alg, c.FormValue("force") == "1")
	if err != nil {
		return &plumbing.PageError{Status: http.StatusConflict, Heading: "The key was not rotated", Message: err.Error()}
	}
	return c.Redirect(http.StatusSeeOther, "/admin/keys?notice=rotated")
}

func (s *Server) handleAdminRevoke(c echo.Context) error {
	kid := c.FormValue("kid")
	if c.FormValue("confirm") != "yes" {
		return s.confirm(c, "Revoke key "+kid+"?",
			"The key leaves the JWKS at once and every token it signed stops verifying. Use this when the key may be compromised.",
			"/admin/keys/revoke", map[string]string{"kid": kid}, "Revoke now", true)
	}
	_, err := s.deps.Keys.Revoke(c.Request().Context(), kid)
	if err != nil {
		return &plumbing.PageError{Status: http.StatusConflict, Heading: "The key was not revoked", Message: err.Error()}
	}
	return c.Redirect(http.StatusSeeOther, "/admin/keys?notice=revoked")
}

func (s *Server) confirm(c echo.Context, heading, msg, action string, fields map[string]string, label string, danger bool) error {
	page := templates.AdminConfirmPage{AdminBase: s.adminBase(c, "keys", heading), Heading: heading, Message: msg,
		Action: action, Fields: fields, ConfirmLabel: label, Danger: danger, CancelURL: "/admin/keys"}
	return s.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return s.deps.Templates.AdminConfirm(w, page) })
}

func (s *Server) handleAdminUsers(c echo.Context) error {
	return s.renderAdminUsers(c, http.StatusOK, "")
}

func (s *Server) renderAdminUsers(c echo.Context, status int, problem string) error {
	list, err := s.deps.Users.Store().List(c.Request().Context())
	if err != nil {
		return err
	}
	page := templates.AdminUsersPage{AdminBase: s.adminBase(c, "users", "Users")}
	page.Error = problem
	for _, u := range list {
		page.Users = append(page.Users, templates.AdminUser{ID: u.ID, Email: u.Email, Name: u.Name,
			Roles: strings.Join(u.Roles, ", "), Created: fmtTime(&u.CreatedAt), Disabled: u.Disabled})
	}
	return s.renderAdmin(c, status, func(w io.Writer) error { return s.deps.Templates.AdminUsers(w, page) })
}

func (s *Server) handleAdminCreateUser(c echo.Context) error {
	var roles []string
	for _, r := range strings.Split(c.FormValue("roles"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	u, err := s.deps.Users.Create(c.Request().Context(), c.FormValue("email"), c.FormValue("password"), c.FormValue("name"), roles)
	switch {
	case errors.Is(err, users.ErrEmailTaken):
		return s.renderAdminUsers(c, http.StatusConflict, "A user with that email already exists.")
	case errors.Is(err, users.ErrInvalidEmail) || errors.Is(err, users.ErrWeakPassword):
		return s.renderAdminUsers(c, http.StatusBadRequest, "Not created: "+joinLines(err.Error())+".")
	case err != nil:
		return err
	}
	s.site.Record(c, "user.created", u.ID, "email="+u.Email)
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-created")
}

func (s *Server) handleAdminDisableUser(c echo.Context) error {
	u, err := s.deps.Users.Store().ByID(c.Request().Context(), c.FormValue("id"))
	if errors.Is(err, db.ErrNotFound) {
		return c.Redirect(http.StatusSeeOther, "/admin/users?notice=nothing-changed")
	}
	if err != nil {
		return err
	}
	if u.ID == adminOf(c).ID {
		return s.renderAdminUsers(c, http.StatusBadRequest, "You cannot disable your own account.")
	}
	if err := s.disableUser(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/users?notice=user-disabled")
}

func (s *Server) handleAdminAudit(c echo.Context) error {
	var before time.Time
	if b := c.QueryParam("before"); b != "" {
		before, _ = time.Parse(time.RFC3339Nano, b)
	}
	events, err := s.deps.Audit.List(c.Request().Context(), before, 100)
	if err != nil {
		return err
	}
	page := templates.AdminAuditPage{AdminBase: s.adminBase(c, "audit", "Audit log")}
	for _, e := range events {
		page.Events = append(page.Events, templates.AdminAuditEvent{At: e.At.UTC().Format("2006-01-02 15:04:05 UTC"),
			Actor: e.Actor, Action: e.Action, Target: e.Target, Via: e.Via, IP: e.IP, Detail: e.Detail})
	}
	if len(events) == 100 {
		page.NextBefore = events[len(events)-1].At.UTC().Format(time.RFC3339Nano)
	}
	return s.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return s.deps.Templates.AdminAudit(w, page) })
}
