package adminhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/audit"
	"idp/clients"
	"idp/mfa"
	"idp/oauth"
	"idp/templates"
)

// RequireAdminToken guards /api/admin/: a bearer access token issued by idp
// whose roles contain admin and whose scope contains idp:admin (a scope
// granted only to admins), held by a user who is still an enabled admin.
// A token handed to a relying service lacks idp:admin and cannot be
// replayed here. 401 without a valid token, 403 without the rights
// (RFC 6750 §3.1).
func (h *Handlers) RequireAdminToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims, err := h.site.BearerClaims(c)
		if err != nil {
			return err
		}
		if !claims.HasRole("admin") || !claims.HasScope(oauth.ScopeAdmin) {
			return oauth.InsufficientScope("an access token with role admin and scope idp:admin is required")
		}
		user, err := h.site.Users.Store().ByID(c.Request().Context(), claims.Subject)
		if err != nil || user.Disabled || !user.HasRole("admin") {
			return oauth.InsufficientScope("the token's user is no longer an administrator")
		}
		// A role that demands a second factor: only tokens from a sign-in
		// that used one (RFC 9470 step-up: the client signs in again with
		// acr_values=urn:idp:acr:mfa).
		if mfa.RoleDemands(h.site.MFARequiredRoles, user.Roles) && mfa.Assurance(claims.AMR) < mfa.LevelMFA {
			return &oauth.Error{Code: "insufficient_user_authentication", Status: http.StatusUnauthorized,
				Description: "the admin API needs a token from a sign-in with a second factor (acr_values=" + mfa.ACRMFA + ")"}
		}
		h.site.ActAs(c, user.Email, audit.ViaAPI)
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// apiError is a JSON error of the admin API in the RFC 6749 shape.
func apiError(status int, code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: status}
}

// apiFail maps the admin layer's typed errors to the API's JSON errors;
// others are server errors for the one error handler.
func apiFail(err error, notFound, conflict string) error {
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return apiError(http.StatusBadRequest, "invalid_request", oneLine(err))
	case errors.Is(err, admin.ErrNotFound):
		return apiError(http.StatusNotFound, "not_found", notFound)
	case errors.Is(err, admin.ErrConflict):
		return apiError(http.StatusConflict, conflict, oneLine(err))
	}
	return err
}

// APIKeys lists the signing keys and the serving policies of the running
// servers (GET /api/admin/keys), with a warning when they disagree.
func (h *Handlers) APIKeys(c echo.Context) error {
	ks, err := h.admin.Keys(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ks)
}

// APIRotate rotates one alg. Too early is 409 with safe_at, unless the
// body confirms with "force": true.
func (h *Handlers) APIRotate(c echo.Context) error {
	var body struct {
		Alg   string `json:"alg"`
		Force bool   `json:"force"`
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be JSON like {\"alg\": \"RS256\"}")
	}
	rot, err := h.admin.RotateKey(c.Request().Context(), actor(c), body.Alg, body.Force)
	var early *admin.TooEarlyError
	switch {
	case errors.As(err, &early):
		// The same stored times the CLI and /admin/keys judge by; the wait
		// is also a Retry-After (RFC 9110 §10.2.3) for scripts.
		wait := early.SafeAt.Sub(h.site.Now())
		secs := int64(math.Ceil(wait.Seconds()))
		c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		return c.JSON(http.StatusConflict, map[string]any{
			"error":               "rotation_too_early",
			"error_description":   early.Error() + " (in " + templates.Duration(wait) + "; send \"force\": true to rotate anyway)",
			"kid":                 early.KID,
			"published_at":        early.PublishedAt.UTC().Format(time.RFC3339),
			"safe_at":             early.SafeAt.UTC().Format(time.RFC3339),
			"retry_after_seconds": secs,
		})
	case err != nil:
		return apiFail(err, "", "already_rotated")
	}
	return c.JSON(http.StatusOK, rot)
}

// APIRevoke revokes a key at once (POST /api/admin/keys/{kid}/revoke):
// it leaves the JWKS and the tokens it signed stop verifying.
func (h *Handlers) APIRevoke(c echo.Context) error {
	k, err := h.admin.RevokeKey(c.Request().Context(), actor(c), c.Param("kid"))
	if err != nil {
		return apiFail(err, "no key with that kid", "already_revoked")
	}
	return c.JSON(http.StatusOK, k)
}

// APICreateUser creates a user from a JSON body.
func (h *Handlers) APICreateUser(c echo.Context) error {
	var body struct {
		Email, Password, Name string
		Roles                 []string
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be JSON with email, password, name and roles")
	}
	u, err := h.admin.CreateUser(c.Request().Context(), actor(c), admin.NewUser{Email: body.Email, Password: body.Password,
		Name: body.Name, Roles: body.Roles})
	if err != nil {
		return apiFail(err, "", "conflict")
	}
	return c.JSON(http.StatusCreated, u)
}

// APIDisableUser disables a user and ends everything they hold.
func (h *Handlers) APIDisableUser(c echo.Context) error {
	u, err := h.admin.DisableUser(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, u)
}

// APIEnableUser lets a disabled user sign in again.
func (h *Handlers) APIEnableUser(c echo.Context) error {
	u, err := h.admin.EnableUser(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, u)
}

// APIUpdateUser changes a user's name and roles from a JSON body
// {"name": …, "roles": […]}; an absent field stays as it is.
func (h *Handlers) APIUpdateUser(c echo.Context) error {
	var body struct {
		Name  *string   `json:"name"`
		Roles *[]string `json:"roles"`
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || (body.Name == nil && body.Roles == nil) {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be JSON with name and/or roles")
	}
	u, err := h.admin.UpdateUser(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")},
		admin.UserUpdate{Name: body.Name, Roles: body.Roles})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, u)
}

// APIUnlockUser forgets the failed sign-ins counted against a user.
func (h *Handlers) APIUnlockUser(c echo.Context) error {
	n, err := h.admin.UnlockUser(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, map[string]any{"cleared": n})
}

// APIUserSessions lists a user's live sessions and offline grants.
func (h *Handlers) APIUserSessions(c echo.Context) error {
	acc, err := h.admin.UserAccess(c.Request().Context(), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, acc)
}

// APIClients lists the clients, without their secret hashes.
func (h *Handlers) APIClients(c echo.Context) error {
	list, err := h.admin.Clients(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clients": list})
}

// APICreateClient registers a client from a JSON clients.Spec; a generated
// secret is in the response, once.
func (h *Handlers) APICreateClient(c echo.Context) error {
	var spec clients.Spec
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be a JSON client: "+err.Error())
	}
	cl, secret, err := h.admin.CreateClient(c.Request().Context(), actor(c), spec)
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return apiError(http.StatusBadRequest, "invalid_client_metadata", oneLine(err))
	case err != nil:
		return apiFail(err, "", "conflict")
	}
	out := map[string]any{"client": cl}
	if secret != "" {
		out["client_secret"] = secret
	}
	return c.JSON(http.StatusCreated, out)
}

// APIDeleteClient deletes a client.
func (h *Handlers) APIDeleteClient(c echo.Context) error {
	if err := h.admin.DeleteClient(c.Request().Context(), actor(c), c.Param("id")); err != nil {
		return apiFail(err, "no such client", "conflict")
	}
	return c.NoContent(http.StatusNoContent)
}

// oneLine folds a joined validation error into one line for a JSON field.
func oneLine(err error) string {
	return fmt.Sprint(joinLines(err.Error()))
}
