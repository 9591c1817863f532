package protocol

import (
	"context"
	"errors"
	"fmt"
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

// deviceResponse is the device authorization response (RFC 8628 §3.2).
type deviceResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// DeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1): the client authenticates as at the token endpoint (a public
// client by its client_id alone) and gets a device code to poll with and
// a user code for the user to enter at verification_uri.
func (h *Handlers) DeviceAuthorization(c echo.Context) error {
	form, client, err := h.clientForm(c)
	if err != nil {
		return err
	}
	h.site.ActAs(c, "client:"+client.ID, audit.ViaAPI)
	scopes, e := deviceRequest(client, form)
	if e != nil {
		return e
	}
	// The audience is the client's default resource (RFC 8628 has no
	// resource parameter): it must allow the scopes before any code exists.
	if e := h.checkTargets(c.Request().Context(), client.Audience(nil), scopes); e != nil {
		return e
	}
	da, err := h.site.Tokens.StartDevice(c.Request().Context(), client.ID, scopes)
	if err != nil {
		return err
	}
	verify := h.site.URL(plumbing.PathDevice)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, deviceResponse{
		DeviceCode: da.DeviceCode, UserCode: da.UserCode, VerificationURI: verify,
		VerificationURIComplete: verify + "?user_code=" + url.QueryEscape(da.UserCode),
		ExpiresIn:               int64(da.ExpiresIn.Seconds()), Interval: int64(da.Interval.Seconds()),
	})
}

// deviceRequest checks a device authorization request of an
// authenticated client (RFC 8628 §3.1) and returns its scopes: the client
// must hold the device grant, and every scope must be one it may request.
// The form's repeated and non-text parameters were refused already.
func deviceRequest(client *clients.Client, form url.Values) ([]string, *oauth.Error) {
	if !client.AllowsGrant(oauth.GrantDeviceCode) {
		return nil, oauth.UnauthorizedClient("this client may not use the device authorization grant")
	}
	raw := form.Get("scope")
	if len(raw) > 2048 {
		return nil, oauth.InvalidScope("scope is too long")
	}
	scopes, ok := oauth.ParseScope(raw)
	if !ok {
		return nil, oauth.InvalidScope("scope contains a forbidden character")
	}
	for _, sc := range scopes {
		if !client.AllowsScope(sc) {
			return nil, oauth.InvalidScope(fmt.Sprintf("this client may not request scope %s", sc))
		}
	}
	return scopes, nil
}

// grantDeviceCode answers a device's poll (RFC 8628 §3.4): pending,
// slow_down, denied and expired are errors of tokens.PollDevice; an
// approved code gives the tokens of the code flow, once.
func (h *Handlers) grantDeviceCode(c echo.Context, client *clients.Client, form url.Values) (*tokens.Response, error) {
	ctx := c.Request().Context()
	grant, err := h.site.Tokens.PollDevice(ctx, client, form.Get("device_code"), h.meta(c))
	if err != nil {
		return nil, err
	}
	return h.mintForUser(ctx, client, grant)
}

// mintForUser mints a grant's tokens if its user may still sign in.
func (h *Handlers) mintForUser(ctx context.Context, client *clients.Client, grant *tokens.Grant) (*tokens.Response, error) {
	user, err := h.site.Users.Store().ByID(ctx, grant.UserID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && user.Disabled) {
		return nil, oauth.InvalidGrant("the user is no longer allowed to sign in")
	}
	if err != nil {
		return nil, err
	}
	return h.site.Tokens.Mint(ctx, client.SigningAlg, grant, user)
}
