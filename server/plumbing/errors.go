package plumbing

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/mfa"
	"idp/oauth"
)

// HandleError is the one place errors become responses (Echo's
// HTTPErrorHandler). People get an HTML page in plain words; clients get
// RFC 6749 §5.2 JSON; anything unexpected is logged with the request id
// and answered server_error, never with its text or a stack trace.
func (s *Site) HandleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		pe *PageError
		oe *oauth.Error
		he *echo.HTTPError
	)
	switch {
	case errors.As(err, &pe):
		s.renderError(c, pe)
		return
	case errors.As(err, &oe):
		if cause := errors.Unwrap(oe); cause != nil {
			s.Log.Warn("request refused", "request_id", RequestIDOf(c), "error", oe.Code, "cause", cause.Error())
		}
	case errors.As(err, &he):
		oe = httpError(he)
	default:
		s.Log.Error("internal error", "request_id", RequestIDOf(c), "path", c.Request().URL.Path, "error", err.Error())
		oe = oauth.ServerError("the server could not complete the request")
	}
	if wantsHTML(c) {
		s.renderError(c, pageFor(oe))
		return
	}
	s.writeOAuthError(c, oe)
}

// pageFor turns a protocol error into words for a person.
func pageFor(e *oauth.Error) *PageError {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	switch {
	case status >= 500:
		return &PageError{status, "Something went wrong", "The sign-in service could not complete your request. Please try again in a moment."}
	case status == http.StatusNotFound:
		return &PageError{status, "Page not found", "There is nothing at this address."}
	}
	msg := e.Description
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:] + "."
	}
	return &PageError{status, "This sign-in request is not valid", msg + " Return to the application and try again."}
}

// httpError maps Echo's routing errors (404, 405, 413) to protocol errors.
func httpError(he *echo.HTTPError) *oauth.Error {
	switch he.Code {
	case http.StatusNotFound:
		return &oauth.Error{Code: "not_found", Description: "no such endpoint", Status: http.StatusNotFound}
	case http.StatusMethodNotAllowed:
		return &oauth.Error{Code: "invalid_request", Description: "method not allowed", Status: http.StatusMethodNotAllowed}
	case http.StatusRequestEntityTooLarge:
		return &oauth.Error{Code: "invalid_request", Description: "request body too large", Status: he.Code}
	}
	if he.Code >= 500 {
		return oauth.ServerError("the server could not complete the request")
	}
	return &oauth.Error{Code: "invalid_request", Description: strings.ToLower(http.StatusText(he.Code)), Status: he.Code}
}

// writeOAuthError writes e as JSON with Cache-Control: no-store, plus the
// WWW-Authenticate challenge RFC 6749 §5.2 and RFC 6750 §3 ask for.
func (s *Site) writeOAuthError(c echo.Context, e *oauth.Error) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	switch e.Code {
	case "invalid_client":
		if used, _ := c.Get(ctxBasicAuth).(bool); used {
			h.Set("WWW-Authenticate", `Basic realm="idp", charset="UTF-8"`)
		}
	case "unauthorized":
		h.Set("WWW-Authenticate", `Bearer realm="idp"`)
	case "invalid_token", "insufficient_scope":
		h.Set("WWW-Authenticate", `Bearer realm="idp", error="`+e.Code+`", error_description="`+quoteSafe(e.Description)+`"`)
	case "insufficient_user_authentication": // RFC 9470 §3
		h.Set("WWW-Authenticate", `Bearer realm="idp", error="`+e.Code+`", error_description="`+quoteSafe(e.Description)+
			`", acr_values="`+mfa.ACRMFA+`"`)
	}
	dpopChallenge(c, e, h) // RFC 9449 §7.1, on resources that take DPoP tokens
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

// quoteSafe keeps a description inside a quoted-string (RFC 6750 §3 allows
// %x20-21 / %x23-5B / %x5D-7E).
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7E || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// ctxBasicAuth marks a request whose client authenticated with HTTP Basic.
const ctxBasicAuth = "basic_auth"

// UsedBasicAuth marks a request whose client tried HTTP Basic, so an
// invalid_client answer carries the Basic challenge (RFC 6749 §5.2).
func UsedBasicAuth(c echo.Context) { c.Set(ctxBasicAuth, true) }

// PageError is an error shown to a person as an HTML page rather than to a
// client as JSON: the plain words of ErrorPage.
type PageError struct {
	Status           int
	Heading, Message string
}

// Error names the status and heading, for logs and tests.
func (e *PageError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Heading) }

// ErrRequestGone is the page for an expired or already answered
// authorization request.
var ErrRequestGone = &PageError{
	Status:  http.StatusBadRequest,
	Heading: "This sign-in link has expired",
	Message: "The sign-in took too long or was already completed. Return to the application and start again.",
}
