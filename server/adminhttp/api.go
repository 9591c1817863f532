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

	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/keys"
	"idp/oauth"
	"idp/templates"
	"idp/users"
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
		h.site.ActAs(c, user.Email, audit.ViaAPI)
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// apiError is a JSON error of the admin API in the RFC 6749 shape.
func apiError(status int, code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: status}
}

// APIKeys lists the signing keys and the serving policies of the running
// servers (GET /api/admin/keys), with a warning when they disagree.
func (h *Handlers) APIKeys(c echo.Context) error {
	list, ps, err := h.keyState(c.Request().Context())
	if err != nil {
		return err
	}
	out := map[string]any{"keys": list, "policies": ps}
	if w := keys.Disagreement(ps, h.site.Now()); w != "" {
		out["warning"] = w
	}
	return c.JSON(http.StatusOK, out)
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
	if body.Alg != keys.RS256 && body.Alg != keys.ES256 {
		return apiError(http.StatusBadRequest, "invalid_request", "alg must be RS256 or ES256")
	}
	rot, err := h.keys.Rotate(c.Request().Context(), body.Alg, body.Force)
	var early *keys.TooEarlyError
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
	case errors.Is(err, keys.ErrAlreadyRotated):
		return apiError(http.StatusConflict, "already_rotated", "another rotation happened at the same time; list the keys and retry")
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, rot)
}

// APIRevoke revokes a key at once (POST /api/admin/keys/{kid}/revoke):
// it leaves the JWKS and the tokens it signed stop verifying.
func (h *Handlers) APIRevoke(c echo.Context) error {
	k, err := h.keys.Revoke(c.Request().Context(), c.Param("kid"))
	switch {
	case errors.Is(err, db.ErrNotFound) || errors.Is(err, keys.ErrUnknownKey):
		return apiError(http.StatusNotFound, "not_found", "no key with that kid")
	case errors.Is(err, keys.ErrAlreadyRevoked):
		return apiError(http.StatusConflict, "already_revoked", "that key is already revoked")
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, k)
}

// userJSON is a user without its password hash.
type userJSON struct {
	ID       string    `json:"id"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Roles    []string  `json:"roles"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created_at"`
}

func toUserJSON(u *users.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userJSON{u.ID, u.Email, u.Name, roles, u.Disabled, u.CreatedAt}
}

// APIUsers lists the users, without their password hashes.
func (h *Handlers) APIUsers(c echo.Context) error {
	list, err := h.site.Users.Store().List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(list))
	for i := range list {
		out = append(out, toUserJSON(&list[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"users": out})
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
	u, err := h.site.Users.Create(c.Request().Context(), body.Email, body.Password, body.Name, body.Roles)
	switch {
	case errors.Is(err, users.ErrEmailTaken):
		return apiError(http.StatusConflict, "conflict", "a user with that email exists")
	case errors.Is(err, users.ErrInvalidEmail) || errors.Is(err, users.ErrWeakPassword):
		return apiError(http.StatusBadRequest, "invalid_request", err.Error())
	case err != nil:
		return err
	}
	h.site.Record(c, "user.created", u.ID, "email="+u.Email)
	return c.JSON(http.StatusCreated, toUserJSON(u))
}

// APIDisableUser disables a user and ends everything they hold.
func (h *Handlers) APIDisableUser(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := h.site.Users.Store().ByID(ctx, c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return apiError(http.StatusNotFound, "not_found", "no such user")
	}
	if err != nil {
		return err
	}
	if err := h.disableUser(c, u); err != nil {
		return err
	}
	u.Disabled = true
	return c.JSON(http.StatusOK, toUserJSON(u))
}

// APIClients lists the clients, without their secret hashes.
func (h *Handlers) APIClients(c echo.Context) error {
	list, err := h.site.Clients.Store().List(c.Request().Context())
	if err != nil {
		return err
	}
	for i := range list {
		list[i].SecretHash = nil
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
	cl, secret, err := h.site.Clients.Create(c.Request().Context(), spec)
	switch {
	case errors.Is(err, clients.ErrClientExists):
		return apiError(http.StatusConflict, "conflict", "a client with that id exists")
	case err != nil:
		return apiError(http.StatusBadRequest, "invalid_client_metadata", oneLine(err))
	}
	h.site.Record(c, "client.created", cl.ID, "")
	cl.SecretHash = nil
	out := map[string]any{"client": cl}
	if secret != "" {
		out["client_secret"] = secret
	}
	return c.JSON(http.StatusCreated, out)
}

// APIDeleteClient deletes a client.
func (h *Handlers) APIDeleteClient(c echo.Context) error {
	err := h.site.Clients.Store().Delete(c.Request().Context(), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return apiError(http.StatusNotFound, "not_found", "no such client")
	}
	if err != nil {
		return err
	}
	h.site.Record(c, "client.deleted", c.Param("id"), "")
	return c.NoContent(http.StatusNoContent)
}

// APIAudit lists audit events, newest first, before an optional RFC 3339
// time.
func (h *Handlers) APIAudit(c echo.Context) error {
	var before time.Time
	if b := c.QueryParam("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			return apiError(http.StatusBadRequest, "invalid_request", "before must be an RFC 3339 time")
		}
		before = t
	}
	limit, _ := strconv.Atoi(c.QueryParam("limit"))
	events, err := h.site.Audit.List(c.Request().Context(), before, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"events": events})
}

// oneLine folds a joined validation error into one line for a JSON field.
func oneLine(err error) string {
	return fmt.Sprint(joinLines(err.Error()))
}
