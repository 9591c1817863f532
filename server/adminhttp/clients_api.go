package adminhttp

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/admin"
)

// maxClientBody bounds a client update: a data: logo is the largest field.
const maxClientBody = 64 << 10

// APIUpdateClient changes a client (PATCH /api/admin/clients/{id}) from a
// JSON admin.ClientUpdate: the fields present replace the client's. Broken
// metadata is 400 invalid_client_metadata (RFC 7591 §3.2.2's code), an
// unknown client 404.
func (h *Handlers) APIUpdateClient(c echo.Context) error {
	var up admin.ClientUpdate
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxClientBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&up); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be a JSON client update: "+err.Error())
	}
	cl, err := h.admin.UpdateClient(c.Request().Context(), actor(c), c.Param("id"), up)
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return apiError(http.StatusBadRequest, "invalid_client_metadata", oneLine(err))
	case err != nil:
		return apiFail(err, "no such client", "conflict")
	}
	return c.JSON(http.StatusOK, map[string]any{"client": cl})
}

// APIRegenerateClientSecret gives a confidential client a new secret
// (POST /api/admin/clients/{id}/secret), returned once.
func (h *Handlers) APIRegenerateClientSecret(c echo.Context) error {
	secret, err := h.admin.RegenerateClientSecret(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return apiFail(err, "no such client", "conflict")
	}
	return c.JSON(http.StatusOK, map[string]any{"client_id": c.Param("id"), "client_secret": secret})
}
