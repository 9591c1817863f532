package protocol

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/db"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/tokens"
)

// UserInfo is the UserInfo endpoint (OIDC Core §5.3): claims of the
// access token's user, by its scopes.
func (h *Handlers) UserInfo(c echo.Context) error {
	claims, err := h.resourceClaims(c, plumbing.PathUserInfo) // Bearer, or DPoP with its proof
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if !claims.HasScope(oauth.ScopeOpenID) {
		return oauth.InsufficientScope("the access token lacks the openid scope")
	}
	user, err := h.site.Users.Store().ByID(ctx, claims.Subject)
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
