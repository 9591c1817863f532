package plumbing

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/dpop"
	"idp/oauth"
)

// ctxDPoP marks a request to a resource that accepts DPoP-bound tokens
// (UserInfo): false once marked, true when the client used the DPoP
// scheme or presented a DPoP-bound token, so the error challenges with
// DPoP rather than Bearer.
const ctxDPoP = "dpop_challenge"

// MarkDPoPResource says the request's resource accepts DPoP tokens
// (RFC 9449 §7.1); used says the client chose DPoP for this request, or
// should have.
func MarkDPoPResource(c echo.Context, used bool) { c.Set(ctxDPoP, used) }

// dpopAlgs is the algs parameter of every DPoP challenge (RFC 9449 §7.1).
var dpopAlgs = `algs="` + strings.Join(dpop.AlgNames(), " ") + `"`

// dpopChallenge adjusts the WWW-Authenticate of an error at a DPoP
// resource: a request without credentials is offered both schemes; a
// DPoP request's (or a bound token's) error is a DPoP challenge, with the
// error code and the accepted algorithms.
func dpopChallenge(c echo.Context, e *oauth.Error, h http.Header) {
	used, marked := c.Get(ctxDPoP).(bool)
	if !marked {
		return
	}
	switch {
	case e.Code == "unauthorized":
		h.Add("WWW-Authenticate", "DPoP "+dpopAlgs)
	case used && (e.Status == http.StatusUnauthorized || e.Code == "insufficient_scope"):
		h.Set("WWW-Authenticate", `DPoP error="`+e.Code+`", error_description="`+quoteSafe(e.Description)+`", `+dpopAlgs)
	}
}
