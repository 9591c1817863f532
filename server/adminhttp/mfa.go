package adminhttp

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/admin"
)

// APIUserFactors lists a user's second factors (kinds and counts).
func (h *Handlers) APIUserFactors(c echo.Context) error {
	f, err := h.admin.UserFactors(c.Request().Context(), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, f)
}

// APIResetMFA removes every second factor of a user and ends their
// sessions (POST /api/admin/users/{id}/reset-mfa).
func (h *Handlers) APIResetMFA(c echo.Context) error {
	removed, err := h.admin.ResetMFA(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, map[string]any{"removed": removed})
}
