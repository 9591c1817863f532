package adminhttp

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/resources"
)

// maxResourceBody bounds a resource spec or update: a URI of 512 bytes
// and some scopes.
const maxResourceBody = 64 << 10

// resourceSpec is the JSON body of POST /api/admin/resources, in the
// names of the admin.Resource view.
type resourceSpec struct {
	URI    string   `json:"id"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// SigningAlg is RS256, ES256 or "" (the client's).
	SigningAlg string `json:"signing_alg"`
	// AccessTokenTTL is in seconds; 0 is the provider's.
	AccessTokenTTL int64 `json:"access_token_ttl"`
	// NoSecret registers the resource without introspection credentials;
	// Secret sets them instead of generating them.
	NoSecret bool   `json:"no_secret"`
	Secret   string `json:"secret"`
}

// decodeResourceJSON reads a JSON body into v, refusing unknown fields.
func decodeResourceJSON(c echo.Context, v any, what string) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxResourceBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be a JSON "+what+": "+err.Error())
	}
	return nil
}

// APIResources lists the resources (GET /api/admin/resources), without
// their secret hashes.
func (h *Handlers) APIResources(c echo.Context) error {
	list, err := h.admin.Resources(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"resources": list})
}

// APIResource returns one resource (GET /api/admin/resources/{id}, the
// URI path-escaped).
func (h *Handlers) APIResource(c echo.Context) error {
	uri, err := resourceParam(c)
	if err != nil {
		return apiError(http.StatusNotFound, "not_found", "no such resource")
	}
	r, err := h.admin.Resource(c.Request().Context(), uri)
	if err != nil {
		return apiFail(err, "no such resource", "conflict")
	}
	return c.JSON(http.StatusOK, map[string]any{"resource": r})
}

// APICreateResource registers a resource from a JSON resourceSpec: 201
// with the resource and, when one was generated, its introspection secret
// as client_secret, once. A taken URI is 409.
func (h *Handlers) APICreateResource(c echo.Context) error {
	var body resourceSpec
	if err := decodeResourceJSON(c, &body, "resource"); err != nil {
		return err
	}
	if body.AccessTokenTTL < 0 || body.AccessTokenTTL > maxTTLSeconds {
		return apiError(http.StatusBadRequest, "invalid_request", "access_token_ttl is out of range")
	}
	spec := resources.Spec{URI: body.URI, Name: body.Name, Scopes: body.Scopes, SigningAlg: body.SigningAlg,
		AccessTokenTTL: time.Duration(body.AccessTokenTTL) * time.Second, Secret: body.Secret, NoSecret: body.NoSecret}
	r, secret, err := h.admin.CreateResource(c.Request().Context(), actor(c), spec)
	if err != nil {
		return apiFail(err, "", "conflict")
	}
	out := map[string]any{"resource": r}
	if secret != "" {
		out["client_secret"] = secret
	}
	return c.JSON(http.StatusCreated, out)
}

// APIUpdateResource changes a resource (PATCH /api/admin/resources/{id})
// from a JSON admin.ResourceUpdate: the fields present replace the
// resource's; its credentials stay.
func (h *Handlers) APIUpdateResource(c echo.Context) error {
	uri, err := resourceParam(c)
	if err != nil {
		return apiError(http.StatusNotFound, "not_found", "no such resource")
	}
	var up admin.ResourceUpdate
	if err := decodeResourceJSON(c, &up, "resource update"); err != nil {
		return err
	}
	if up.AccessTokenTTL != nil && (*up.AccessTokenTTL < 0 || *up.AccessTokenTTL > maxTTLSeconds) {
		return apiError(http.StatusBadRequest, "invalid_request", "access_token_ttl is out of range")
	}
	r, err := h.admin.UpdateResource(c.Request().Context(), actor(c), uri, up)
	if err != nil {
		return apiFail(err, "no such resource", "conflict")
	}
	return c.JSON(http.StatusOK, map[string]any{"resource": r})
}

// APIDeleteResource deletes a resource (DELETE /api/admin/resources/{id}).
func (h *Handlers) APIDeleteResource(c echo.Context) error {
	uri, err := resourceParam(c)
	if err != nil {
		return apiError(http.StatusNotFound, "not_found", "no such resource")
	}
	if err := h.admin.DeleteResource(c.Request().Context(), actor(c), uri); err != nil {
		return apiFail(err, "no such resource", "conflict")
	}
	return c.NoContent(http.StatusNoContent)
}

// APIRegenerateResourceSecret gives a resource a new introspection secret
// (POST /api/admin/resources/{id}/secret), returned once; the resource
// authenticates with its URI as client_id.
func (h *Handlers) APIRegenerateResourceSecret(c echo.Context) error {
	uri, err := resourceParam(c)
	if err != nil {
		return apiError(http.StatusNotFound, "not_found", "no such resource")
	}
	secret, err := h.admin.RegenerateResourceSecret(c.Request().Context(), actor(c), uri)
	if err != nil {
		return apiFail(err, "no such resource", "conflict")
	}
	return c.JSON(http.StatusOK, map[string]any{"client_id": uri, "client_secret": secret})
}
