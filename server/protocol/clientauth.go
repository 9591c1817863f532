package protocol

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/db"
	"idp/oauth"
	"idp/server/plumbing"
)

// authenticateClient implements RFC 6749 §2.3: client_secret_basic,
// client_secret_post, or none for public clients (which then prove
// possession with PKCE). Using two methods at once is invalid_request.
func (h *Handlers) authenticateClient(c echo.Context, form url.Values) (*clients.Client, error) {
	id, secret, basic, err := basicAuth(c.Request().Header.Get("Authorization"))
	if err != nil {
		plumbing.UsedBasicAuth(c)
		return nil, err
	}
	if basic {
		plumbing.UsedBasicAuth(c)
		if form.Has("client_secret") {
			return nil, oauth.InvalidRequest("use one client authentication method, not two")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, oauth.InvalidRequest("client_id does not match the authenticated client")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, oauth.InvalidClient("client authentication is required")
	}
	ctx := c.Request().Context()
	if secret == "" {
		// "none": only public clients may skip the secret.
		client, err := h.site.Clients.Store().ByID(ctx, id)
		if errors.Is(err, db.ErrNotFound) {
			return nil, oauth.InvalidClient("client authentication failed")
		}
		if err != nil {
			return nil, err
		}
		if !client.Public {
			return nil, oauth.InvalidClient("client authentication failed")
		}
		return client, nil
	}
	client, err := h.site.Clients.Authenticate(ctx, id, secret)
	if errors.Is(err, clients.ErrInvalidClient) {
		return nil, oauth.InvalidClient("client authentication failed")
	}
	if err != nil {
		return nil, err
	}
	// A client that registered one method (RFC 7591 §2) uses that one: a
	// secret sent another way is not this client's doing.
	used := clients.AuthSecretPost
	if basic {
		used = clients.AuthSecretBasic
	}
	if !client.AcceptsAuthMethod(used) {
		return nil, oauth.InvalidClient("this client authenticates with " + client.AuthMethod())
	}
	return client, nil
}

// clientForm reads the form and authenticates the client that sent it:
// the first steps of every endpoint that authenticates clients (token,
// revocation, introspection), written once.
func (h *Handlers) clientForm(c echo.Context) (url.Values, *clients.Client, error) {
	form, err := tokenForm(c)
	if err != nil {
		return nil, nil, err
	}
	client, err := h.authenticateClient(c, form)
	if err != nil {
		return nil, nil, err
	}
	return form, client, nil
}

// basicAuth parses an HTTP Basic header whose user and password are
// form-urlencoded (RFC 6749 §2.3.1). ok is false when the header is absent
// or not Basic; a malformed Basic header is invalid_client.
func basicAuth(header string) (id, secret string, ok bool, err error) {
	if header == "" {
		return "", "", false, nil
	}
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false, nil
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if derr != nil || len(raw) > 1024 {
		return "", "", false, oauth.InvalidClient("malformed Basic authorization header")
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false, oauth.InvalidClient("malformed Basic authorization header")
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", false, oauth.InvalidClient("malformed Basic authorization header")
	}
	if secret, err = url.QueryUnescape(p); err != nil || !plumbing.ValidText(id) || !plumbing.ValidText(secret) {
		return "", "", false, oauth.InvalidClient("malformed Basic authorization header")
	}
	return id, secret, true, nil
}
