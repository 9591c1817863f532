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
	"idp/resources"
	"idp/server/plumbing"
)

// authenticateClient implements RFC 6749 §2.3: client_secret_basic,
// client_secret_post, or none for public clients (which then prove
// possession with PKCE). Using two methods at once is invalid_request.
func (h *Handlers) authenticateClient(c echo.Context, form url.Values) (*clients.Client, error) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return h.authenticateAssertion(c, form)
	}
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

// authenticateResource authenticates a registered resource by its URI and
// secret, Basic or in the form. ok is false when the credentials name no
// URI (a client id never contains ":"), so the caller tries a client.
func (h *Handlers) authenticateResource(c echo.Context, form url.Values) (uri string, ok bool, err error) {
	id, secret, basic, err := basicAuth(c.Request().Header.Get("Authorization"))
	if err != nil {
		plumbing.UsedBasicAuth(c)
		return "", false, err
	}
	if !basic {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if !strings.Contains(id, ":") || form.Has("client_assertion") {
		return "", false, nil
	}
	if basic {
		plumbing.UsedBasicAuth(c)
		if form.Has("client_secret") {
			return "", false, oauth.InvalidRequest("use one client authentication method, not two")
		}
	}
	r, err := h.site.Resources.Authenticate(c.Request().Context(), id, secret)
	if errors.Is(err, resources.ErrInvalidCredentials) {
		return "", false, oauth.InvalidClient("client authentication failed")
	}
	if err != nil {
		return "", false, err
	}
	return r.URI, true, nil
}

// jwtBearer is RFC 7523 §2.2's client_assertion_type.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// authenticateAssertion is private_key_jwt or client_secret_jwt (RFC 7523
// §2.2, OIDC Core §9):
// the assertion alone authenticates; with a secret or Basic as well it is
// invalid_request. Its aud may be the issuer or this endpoint's URL.
func (h *Handlers) authenticateAssertion(c echo.Context, form url.Values) (*clients.Client, error) {
	if c.Request().Header.Get("Authorization") != "" || form.Has("client_secret") {
		return nil, oauth.InvalidRequest("use one client authentication method, not two")
	}
	if form.Get("client_assertion_type") != jwtBearer {
		return nil, oauth.InvalidClient("client_assertion_type must be " + jwtBearer)
	}
	audiences := []string{h.site.Issuer, h.site.URL(c.Request().URL.Path)}
	client, err := h.site.Clients.AuthenticateAssertion(c.Request().Context(), form.Get("client_assertion"), audiences)
	if errors.Is(err, clients.ErrInvalidClient) {
		return nil, oauth.InvalidClient("client authentication failed").Wrap(err)
	}
	if err != nil {
		return nil, err
	}
	if fid := form.Get("client_id"); fid != "" && fid != client.ID {
		return nil, oauth.InvalidClient("client_id does not match the assertion")
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
