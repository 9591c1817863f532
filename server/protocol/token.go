package protocol

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/tokens"
)

// grantHandler redeems one grant type for an authenticated client.
type grantHandler func(c echo.Context, client *clients.Client, form url.Values) (*tokens.Response, error)

// Token is the token endpoint (RFC 6749 §3.2) as a pipeline: parse
// the form, authenticate the client, check it may use the grant, run the
// grant, write the response with Cache-Control: no-store.
func (h *Handlers) Token(c echo.Context) error {
	form, client, err := h.clientForm(c)
	if err != nil {
		return err
	}
	h.site.ActAs(c, "client:"+client.ID, audit.ViaAPI)
	if err := h.limits.Limit(c, client.ID); err != nil {
		return err
	}
	if err := h.bindTokenProof(c, client); err != nil { // RFC 9449 §5
		return err
	}
	grants := map[string]grantHandler{
		oauth.GrantAuthorizationCode: h.grantAuthorizationCode,
		oauth.GrantRefreshToken:      h.grantRefreshToken,
		oauth.GrantClientCredentials: h.grantClientCredentials,
		oauth.GrantDeviceCode:        h.grantDeviceCode,
	}
	gt := form.Get("grant_type")
	handler, ok := grants[gt]
	switch {
	case gt == "":
		return oauth.InvalidRequest("grant_type is missing")
	case !ok:
		return oauth.UnsupportedGrantType(fmt.Sprintf("grant_type %q is not supported", gt))
	case !client.AllowsGrant(gt):
		return oauth.UnauthorizedClient(fmt.Sprintf("this client may not use grant_type %s", gt))
	}
	resp, err := handler(c, client, form)
	if err != nil {
		return err
	}
	h.metrics.TokenIssued(gt, client.SigningAlg)
	if err := h.site.Clients.Used(c.Request().Context(), client); err != nil {
		h.site.Log.Warn("record client use", "request_id", plumbing.RequestIDOf(c), "error", err.Error())
	}
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	return c.JSON(http.StatusOK, resp)
}

// tokenForm reads an application/x-www-form-urlencoded body (RFC 6749
// §4.1.3) and refuses repeated parameters (§3.2).
func tokenForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauth.InvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, oauth.InvalidRequest("the body is not a valid form")
	}
	for k, v := range r.PostForm {
		if !plumbing.ValidValues(k, v) {
			return nil, oauth.InvalidRequest("parameters must be UTF-8 text without NUL")
		}
		if len(v) > 1 && k != "resource" {
			return nil, oauth.InvalidRequest(fmt.Sprintf("parameter %s is repeated", k))
		}
	}
	return r.PostForm, nil
}

// grantAuthorizationCode redeems a code (RFC 6749 §4.1.3, RFC 7636 §4.5).
func (h *Handlers) grantAuthorizationCode(c echo.Context, client *clients.Client, form url.Values) (*tokens.Response, error) {
	ctx := c.Request().Context()
	resources, e := parseResources(form["resource"])
	if e != nil {
		return nil, e
	}
	grant, err := h.site.Tokens.RedeemCode(ctx, client, form.Get("code"), form.Get("redirect_uri"),
		form.Get("code_verifier"), resources, h.meta(c))
	if err != nil {
		return nil, err
	}
	user, err := h.site.Users.Store().ByID(ctx, grant.UserID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && user.Disabled) {
		return nil, oauth.InvalidGrant("the user is no longer allowed to sign in")
	}
	if err != nil {
		return nil, err
	}
	return h.site.Tokens.Mint(ctx, client.SigningAlg, grant, user)
}

// grantRefreshToken rotates a refresh token (RFC 6749 §6).
func (h *Handlers) grantRefreshToken(c echo.Context, client *clients.Client, form url.Values) (*tokens.Response, error) {
	resources, e := parseResources(form["resource"])
	if e != nil {
		return nil, e
	}
	resp, err := h.site.Tokens.Refresh(c.Request().Context(), client, form.Get("refresh_token"), form.Get("scope"), resources, h.meta(c))
	var uf *tokens.UpstreamFailure
	if errors.As(err, &uf) {
		// The operator learns why (never a token: the cause holds none);
		// the client gets only the OAuth error.
		outcome := "refresh_unavailable"
		if uf.Refused {
			outcome = "refresh_refused"
		} else {
			// RFC 9110 §10.2.3: when to try again; the upstream's own
			// requests time out after 10 s.
			c.Response().Header().Set("Retry-After", "10")
		}
		h.site.Log.Warn("upstream refresh check failed", "request_id", plumbing.RequestIDOf(c), "upstream", uf.Upstream,
			"client", client.ID, "outcome", outcome, "error", uf.Error())
		if h.metrics != nil {
			h.metrics.UpstreamFailed(uf.Upstream, outcome)
		}
	}
	return resp, err
}

// grantClientCredentials issues a token to a confidential client acting for
// itself (RFC 6749 §4.4); public clients cannot prove who they are.
func (h *Handlers) grantClientCredentials(c echo.Context, client *clients.Client, form url.Values) (*tokens.Response, error) {
	if client.Public {
		return nil, oauth.UnauthorizedClient("public clients may not use client_credentials")
	}
	resources, e := parseResources(form["resource"])
	if e != nil {
		return nil, e
	}
	return h.site.Tokens.ClientCredentials(c.Request().Context(), client, form.Get("scope"), resources)
}

// meta describes the request for the account page.
func (h *Handlers) meta(c echo.Context) tokens.Meta {
	return tokens.Meta{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}
