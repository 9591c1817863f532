package protocol

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/oauth"
	"idp/tokens"
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
//
// A registered resource (an API) may call it too, with its URI as the
// client_id and its own secret (Basic or in the form); it learns only of
// access tokens whose aud names it.
func (h *Handlers) Introspect(c echo.Context) error {
	form, err := tokenForm(c)
	if err != nil {
		return err
	}
	res, err := h.introspect(c, form)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, res)
}

// introspect authenticates the caller, a resource or a client, and
// answers for it.
func (h *Handlers) introspect(c echo.Context, form url.Values) (*tokens.Introspection, error) {
	ctx := c.Request().Context()
	uri, isResource, err := h.authenticateResource(c, form)
	if err != nil {
		return nil, err
	}
	if isResource {
		h.site.ActAs(c, "resource:"+uri, audit.ViaAPI)
		return h.site.Tokens.IntrospectForResource(ctx, uri, form.Get("token"))
	}
	client, err := h.authenticateClient(c, form)
	if err != nil {
		return nil, err
	}
	return h.site.Tokens.Introspect(ctx, client, form.Get("token"), form.Get("token_type_hint"))
}
