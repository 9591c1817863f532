package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/db"
	"idp/oauth"
	"idp/tokens"
)

// bearerToken extracts an RFC 6750 bearer token from the Authorization
// header (§2.1) or, for POST, the form body (§2.2); never both.
func bearerToken(c echo.Context) (string, error) {
	h := c.Request().Header.Get("Authorization")
	var body string
	if c.Request().Method == http.MethodPost {
		body = c.FormValue("access_token")
	}
	if h == "" {
		if body == "" {
			return "", oauth.InvalidToken("a bearer access token is required")
		}
		return body, nil
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" || body != "" {
		return "", oauth.InvalidToken("a bearer access token is required")
	}
	return strings.TrimSpace(tok), nil
}

// handleUserInfo is the UserInfo endpoint (OIDC Core §5.3): claims of the
// access token's user, by its scopes.
func (s *Server) handleUserInfo(c echo.Context) error {
	tok, err := bearerToken(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	claims, err := s.deps.Tokens.VerifyAccessToken(ctx, tok)
	if err != nil {
		return err
	}
	if !claims.HasScope(oauth.ScopeOpenID) {
		return oauth.InsufficientScope("the access token lacks the openid scope")
	}
	user, err := s.deps.Users.Store().ByID(ctx, claims.Subject)
	if errors.Is(err, db.ErrNotFound) || (err == nil && user.Disabled) {
		return oauth.InvalidToken("the user is no longer active")
	}
	if err != nil {
		return err
	}
	scopes, _ := oauth.ParseScope(claims.Scope)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, tokens.UserInfo(user, scopes))
}
