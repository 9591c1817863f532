package adminhttp

import (
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/keys"
	"idp/server/plumbing"
	"idp/templates"
)

// KeysPage shows the signing keys, their timeline per algorithm and the
// serving policy of every running server.
func (h *Handlers) KeysPage(c echo.Context) error {
	ks, err := h.admin.Keys(c.Request().Context())
	if err != nil {
		return err
	}
	now := h.site.Now()
	// The sentence above the timeline states what the schedule follows:
	// the longest max-age of the running servers, this one included.
	maxAge := h.cfg.JWKSMaxAge
	page := templates.AdminKeysPage{
		AdminBase:        h.adminBase(c, "keys", "Signing keys"),
		RotationInterval: templates.Duration(h.cfg.KeyRotationInterval),
		Timelines:        timelines(ks.Keys, now, h.cfg.KeyRotationInterval),
		Warning:          ks.Warning,
	}
	for _, p := range ks.Policies {
		if !p.Live(now) {
			continue
		}
		maxAge = max(maxAge, p.JWKSMaxAge)
		page.Processes = append(page.Processes, templates.AdminProcess{
			Host: p.Host, PID: strconv.Itoa(p.PID), Started: fmtTime(&admin.Time{Time: p.StartedAt}),
			JWKSMaxAge: templates.Duration(p.JWKSMaxAge), RotationInterval: templates.Duration(p.RotationInterval),
			TokenTTL: templates.Duration(p.TokenTTL),
		})
	}
	page.JWKSMaxAge = templates.Duration(maxAge)
	for _, k := range ks.Keys {
		page.Keys = append(page.Keys, templates.AdminKey{
			KID: k.KID, Alg: k.Alg, State: k.State, Created: fmtTime(&k.Created), Activated: fmtTime(k.Activated),
			SignsFrom: fmtTime(k.SignsFrom), Retired: fmtTime(k.Retired), NotAfter: fmtTime(k.NotAfter),
			Revocable: k.State != keys.StateRevoked,
		})
	}
	return h.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return h.site.Templates.AdminKeys(w, page) })
}

// RotateKey asks for confirmation, then rotates. The confirmation
// warns, with the safe time, when rotating now could break relying
// services; confirming that warning is the web's --force.
func (h *Handlers) RotateKey(c echo.Context) error {
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
		safe, err := h.admin.SafeAt(ctx, alg)
		if err != nil {
			return err
		}
		safeAt := safe.Time
		if now := h.site.Now(); now.Before(safeAt) {
			msg = "The next " + alg + " key has not been published long enough: rotating before " +
				safeAt.UTC().Format("2006-01-02 15:04:05 UTC") + " (in " + templates.Duration(safeAt.Sub(now)) +
				") could make relying services that cached the JWKS reject new tokens until they refetch it."
			fields["force"], label, danger = "1", "Rotate anyway", true
		}
		return h.confirm(c, "Rotate the "+alg+" signing key?", msg, "/admin/keys/rotate", fields, label, danger)
	}
	_, err := h.admin.RotateKey(ctx, actor(c), alg, c.FormValue("force") == "1")
	if err != nil {
		return &plumbing.PageError{Status: http.StatusConflict, Heading: "The key was not rotated", Message: err.Error()}
	}
	return c.Redirect(http.StatusSeeOther, "/admin/keys?notice=rotated")
}

// RevokeKey asks for confirmation, then revokes a key at once.
func (h *Handlers) RevokeKey(c echo.Context) error {
	kid := c.FormValue("kid")
	if c.FormValue("confirm") != "yes" {
		return h.confirm(c, "Revoke key "+kid+"?",
			"The key leaves the JWKS at once and every token it signed stops verifying. Use this when the key may be compromised.",
			"/admin/keys/revoke", map[string]string{"kid": kid}, "Revoke now", true)
	}
	_, err := h.admin.RevokeKey(c.Request().Context(), actor(c), kid)
	if err != nil {
		return &plumbing.PageError{Status: http.StatusConflict, Heading: "The key was not revoked", Message: err.Error()}
	}
	return c.Redirect(http.StatusSeeOther, "/admin/keys?notice=revoked")
}

func (h *Handlers) confirm(c echo.Context, heading, msg, action string, fields map[string]string, label string, danger bool) error {
	page := templates.AdminConfirmPage{AdminBase: h.adminBase(c, "keys", heading), Heading: heading, Message: msg,
		Action: action, Fields: fields, ConfirmLabel: label, Danger: danger, CancelURL: "/admin/keys"}
	return h.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return h.site.Templates.AdminConfirm(w, page) })
}
