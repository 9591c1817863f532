package server

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

// requireAdminToken guards /api/admin/: a bearer access token issued by idp
// whose roles contain admin and whose scope contains idp:admin (a scope
// granted only to admins), held by a user who is still an enabled admin.
// A token handed to a relying service lacks idp:admin and cannot be
// replayed here. 401 without a valid token, 403 without the rights
// (RFC 6750 §3.1).
func (s *Server) requireAdminToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims, err := s.site.BearerClaims(c)
		if err != nil {
			return err
		}
		if !claims.HasRole("admin") || !claims.HasScope(oauth.ScopeAdmin) {
			return oauth.InsufficientScope("an access token with role admin and scope idp:admin is required")
		}
		user, err := s.deps.Users.Store().ByID(c.Request().Context(), claims.Subject)
		if err != nil || user.Disabled || !user.HasRole("admin") {
			return oauth.InsufficientScope("the token's user is no longer an administrator")
		}
		s.site.ActAs(c, user.Email, audit.ViaAPI)
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// apiError is a JSON error of the admin API in the RFC 6749 shape.
func apiError(status int, code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: status}
}

func (s *Server) apiKeys(c echo.Context) error {
	ctx := c.Request().Context()
	list, err := s.deps.Keys.List(ctx)
	if err != nil {
		return err
	}
	ps, err := s.deps.Keys.Policies(ctx)
	if err != nil {
		return err
	}
	out := map[string]any{"keys": list, "policies": ps}
	if w := keys.Disagreement(ps, s.site.Now()); w != "" {
		out["warning"] = w
	}
	return c.JSON(http.StatusOK, out)
}

// apiRotate rotates one alg. Too early is 409 with safe_at, unless the
// body confirms with "force": true.
func (s *Server) apiRotate(c echo.Context) error {
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
	rot, err := s.deps.Keys.Rotate(c.Request().Context(), body.Alg, body.Force)
	var early *keys.TooEarlyError
	switch {
	case errors.As(err, &early):
		// The same stored times the CLI and /admin/keys judge by; the wait
		// is also a Retry-After (RFC 9110 §10.2.3) for scripts.
		wait := early.SafeAt.Sub(s.site.Now())
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

func (s *Server) apiRevoke(c echo.Context) error {
	k, err := s.deps.Keys.Revoke(c.Request().Context(), c.Param("kid"))
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

func (s *Server) apiUsers(c echo.Context) error {
	list, err := s.deps.Users.Store().List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(list))
	for i := range list {
		out = append(out, toUserJSON(&list[i]))
	}
	return c.JSON(http.StatusOK, map[string]any{"users": out})
}

func (s *Server) apiCreateUser(c echo.Context) error {
	var body struct {
		Email, Password, Name string
		Roles                 []string
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be JSON with email, password, name and roles")
	}
	u, err := s.deps.Users.Create(c.Request().Context(), body.Email, body.Password, body.Name, body.Roles)
	switch {
	case errors.Is(err, users.ErrEmailTaken):
		return apiError(http.StatusConflict, "conflict", "a user with that email exists")
	case errors.Is(err, users.ErrInvalidEmail) || errors.Is(err, users.ErrWeakPassword):
		return apiError(http.StatusBadRequest, "invalid_request", err.Error())
	case err != nil:
		return err
	}
	s.site.Record(c, "user.created", u.ID, "email="+u.Email)
	return c.JSON(http.StatusCreated, toUserJSON(u))
}

func (s *Server) apiDisableUser(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := s.deps.Users.Store().ByID(ctx, c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return apiError(http.StatusNotFound, "not_found", "no such user")
	}
	if err != nil {
		return err
	}
	if err := s.disableUser(c, u); err != nil {
		return err
	}
	u.Disabled = true
	return c.JSON(http.StatusOK, toUserJSON(u))
}

// disableUser disables a user and ends everything they hold: sessions and
// offline grants (their access tokens die with the family).
func (s *Server) disableUser(c echo.Context, u *users.User) error {
	ctx := c.Request().Context()
	if err := s.deps.Users.Store().SetDisabled(ctx, u.ID, true); err != nil {
		return err
	}
	if err := s.deps.Sessions.EndAll(ctx, u.ID); err != nil {
		return err
	}
	if err := s.deps.Tokens.RevokeUserGrants(ctx, u.ID); err != nil {
		return err
	}
	s.site.Record(c, "user.disabled", u.ID, "email="+u.Email)
	return nil
}

func (s *Server) apiClients(c echo.Context) error {
	list, err := s.deps.Clients.Store().List(c.Request().Context())
	if err != nil {
		return err
	}
	for i := range list {
		list[i].SecretHash = nil
	}
	return c.JSON(http.StatusOK, map[string]any{"clients": list})
}

func (s *Server) apiCreateClient(c echo.Context) error {
	var spec clients.Spec
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be a JSON client: "+err.Error())
	}
	cl, secret, err := s.deps.Clients.Create(c.Request().Context(), spec)
	switch {
	case errors.Is(err, clients.ErrClientExists):
		return apiError(http.StatusConflict, "conflict", "a client with that id exists")
	case err != nil:
		return apiError(http.StatusBadRequest, "invalid_client_metadata", oneLine(err))
	}
	s.site.Record(c, "client.created", cl.ID, "")
	cl.SecretHash = nil
	out := map[string]any{"client": cl}
	if secret != "" {
		out["client_secret"] = secret
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) apiDeleteClient(c echo.Context) error {
	err := s.deps.Clients.Store().Delete(c.Request().Context(), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return apiError(http.StatusNotFound, "not_found", "no such client")
	}
	if err != nil {
		return err
	}
	s.site.Record(c, "client.deleted", c.Param("id"), "")
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiAudit(c echo.Context) error {
	var before time.Time
	if b := c.QueryParam("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			return apiError(http.StatusBadRequest, "invalid_request", "before must be an RFC 3339 time")
		}
		before = t
	}
	limit, _ := strconv.Atoi(c.QueryParam("limit"))
	events, err := s.deps.Audit.List(c.Request().Context(), before, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"events": events})
}

// oneLine folds a joined validation error into one line for a JSON field.
func oneLine(err error) string {
	return fmt.Sprint(joinLines(err.Error()))
}

// joinLines folds the lines of a joined error with "; ".
func joinLines(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' {
			out = append(out, ';', ' ')
			continue
		}
		out = append(out, r)
	}
	return string(out)
}
