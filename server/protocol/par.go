package protocol

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/clients"
	"idp/oauth"
	"idp/tokens"
)

// parResponse is RFC 9126 §2.2's answer.
type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int    `json:"expires_in"`
}

// PushAuthorization is the pushed authorization request endpoint (RFC
// 9126 §2): the client authenticates as at the token endpoint and posts
// the parameters of an authorization request, which are checked as
// /authorize checks them and stored; the answer is a request_uri that
// stands for them at /authorize for a minute, once. Errors are RFC 6749
// §5.2 JSON (RFC 9126 §2.3), and nothing is stored on any of them.
func (h *Handlers) PushAuthorization(c echo.Context) error {
	form, client, err := h.clientForm(c)
	if err != nil {
		return err
	}
	h.site.ActAs(c, "client:"+client.ID, audit.ViaAPI)
	params, e := parParams(form)
	if e != nil {
		return e
	}
	if err := h.bindPushProof(c, params); err != nil { // RFC 9449 §10.1
		return err
	}
	req, e := h.checkAuthorize(client, params)
	if e != nil {
		if e.NoRedirect {
			// RFC 9126 §2.3: invalid_request where RFC 6749 §4.1.2.1 would
			// not redirect; the words are for the client, not a person.
			return oauth.InvalidRequest("redirect_uri is missing or not registered for this client")
		}
		return e
	}
	if e := h.targets(c.Request().Context(), client, req); e != nil {
		return e // an unregistered resource: invalid_target, nothing pushed
	}
	uri, ttl, err := h.site.Tokens.Push(c.Request().Context(), client.ID, params)
	if err != nil {
		return err
	}
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	return c.JSON(http.StatusCreated, parResponse{RequestURI: uri, ExpiresIn: int(ttl / time.Second)})
}

// clientAuthParams authenticate the client at the PAR endpoint; they are
// not part of the authorization request and are never stored.
var clientAuthParams = []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"}

// parParams turns the PAR endpoint's form (already read by tokenForm:
// UTF-8, nothing repeated but resource) into the authorization request
// parameters to check and store. A request_uri cannot itself be pushed
// (RFC 9126 §2.1); a request object is refused by checkAuthorize, as at
// /authorize (request_parameter_supported is false).
func parParams(form url.Values) (url.Values, *oauth.Error) {
	if form.Has("request_uri") {
		return nil, oauth.InvalidRequest("request_uri must not be pushed (RFC 9126 §2.1)")
	}
	p := make(url.Values, len(form))
	for k, v := range form {
		if !slices.Contains(clientAuthParams, k) {
			p[k] = slices.Clone(v)
		}
	}
	return p, nil
}

// loadPushed reads the pushed request an authorization request names by
// request_uri (RFC 9126 §4), or nil when it names none of idp's. A
// request_uri that is unknown, expired, used or another client's is
// refused on a page: nothing in the request says where it may safely be
// redirected. A request_uri of another form is left to checkAuthorize,
// which answers request_uri_not_supported (RFC 9101 request objects by
// reference are not supported).
func (h *Handlers) loadPushed(ctx context.Context, client *clients.Client, p url.Values) (*tokens.Pushed, error) {
	uri := p.Get("request_uri")
	if !strings.HasPrefix(uri, tokens.RequestURIPrefix) {
		return nil, nil
	}
	pushed, err := h.site.Tokens.Pushed(ctx, uri, client.ID)
	switch {
	case errors.Is(err, tokens.ErrPushedGone):
		return nil, oauth.InvalidRequestURI("the sign-in link has expired or was already used (request_uri)").WithoutRedirect()
	case errors.Is(err, tokens.ErrPushedClient):
		return nil, oauth.InvalidRequestURI("the sign-in link was made for another application (request_uri)").WithoutRedirect()
	case err != nil:
		return nil, err
	}
	return pushed, nil
}

// requirePushed refuses a plain authorization request when the server
// (--require-par) or the client (require_pushed_authorization_requests)
// demands pushed requests (RFC 9126 §4, §5, §6): invalid_request, sent
// back to the client's checked redirect_uri.
func (h *Handlers) requirePushed(client *clients.Client, pushed *tokens.Pushed) *oauth.Error {
	if pushed != nil || (!h.cfg.RequirePAR && !client.RequirePAR) {
		return nil
	}
	return oauth.InvalidRequest("authorization requests must be pushed to the pushed_authorization_request_endpoint first (RFC 9126)")
}

// claimPushed marks the pushed request used once /authorize has accepted
// it; from then on the pending request's own id carries the sign-in, so
// reloading the sign-in page needs no request_uri. Of concurrent uses of
// one request_uri exactly one gets here without an error.
func (h *Handlers) claimPushed(ctx context.Context, pushed *tokens.Pushed) error {
	if pushed == nil {
		return nil
	}
	err := h.site.Tokens.Claim(ctx, pushed)
	if errors.Is(err, tokens.ErrPushedGone) {
		return oauth.InvalidRequestURI("the sign-in link has expired or was already used (request_uri)").WithoutRedirect()
	}
	return err
}
