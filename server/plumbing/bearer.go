package plumbing

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

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
	switch {
	case h == "" && body == "":
		// No credentials at all: a bare challenge, no error code
		// (RFC 6750 §3.1).
		return "", errNoToken
	case h == "":
		return body, nil
	case body != "":
		return "", oauth.InvalidRequest("send the access token in one place, not in the header and the body")
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", errNoToken
	}
	return strings.TrimSpace(tok), nil
}

// BearerClaims verifies the request's bearer access token (signature,
// expiry, denylist) and returns its claims; the errors are RFC 6750's.
// UserInfo and the admin API both take such a token.
func (s *Site) BearerClaims(c echo.Context) (*tokens.AccessClaims, error) {
	tok, err := bearerToken(c)
	if err != nil {
		return nil, err
	}
	claims, err := s.Tokens.VerifyAccessToken(c.Request().Context(), tok)
	if err == nil && claims.Cnf != nil {
		// A DPoP-bound token is worth nothing without its key's proof
		// (RFC 9449 §7.1): never accept it as a bearer token.
		if _, dpopResource := c.Get(ctxDPoP).(bool); dpopResource {
			MarkDPoPResource(c, true)
		}
		return nil, oauth.InvalidToken("the access token is DPoP-bound: send it with the DPoP scheme and a proof")
	}
	return claims, err
}

// errNoToken answers a request without a bearer token: 401 with a bare
// Bearer challenge.
var errNoToken = &oauth.Error{Code: "unauthorized", Description: "a bearer access token is required", Status: http.StatusUnauthorized}
