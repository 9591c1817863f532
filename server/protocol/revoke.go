package protocol

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/oauth"
)

// Revoke is the revocation endpoint (RFC 7009). A refresh token
// revokes its whole family; an access token goes on the denylist until it
// expires. Unknown tokens, and tokens of other clients, get 200 and change
// nothing (§2.2), so the endpoint reveals nothing about them.
func (h *Handlers) Revoke(c echo.Context) error {
	form, client, err := h.clientForm(c)
	if err != nil {
		return err
	}
	h.site.ActAs(c, "client:"+client.ID, audit.ViaAPI)
	token := form.Get("token")
	if token == "" {
		return oauth.InvalidRequest("token is missing")
	}
	ctx := c.Request().Context()
	first, second := h.site.Tokens.RevokeRefresh, h.site.Tokens.RevokeAccess
	if form.Get("token_type_hint") == "access_token" {
		first, second = second, first
	}
	found, err := first(ctx, client.ID, token)
	if err == nil && !found {
		_, err = second(ctx, client.ID, token)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.NoContent(http.StatusOK)
}

// Introspect is the introspection endpoint (RFC 7662).
func (h *Handlers) Introspect(c echo.Context) error {
	form, client, err := h.clientForm(c)
	if err != nil {
		return err
	}
	res, err := h.site.Tokens.Introspect(c.Request().Context(), client, form.Get("token"), form.Get("token_type_hint"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, res)
}
