package plumbing

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"idp/oauth"
)

const headerRequestID = "X-Request-Id"

// RequestID gives every request an id, echoed in the response and in every
// log line about it. A client-supplied id is kept only if it looks sane.
// The id lives in the response header only: no per-request context map.
func RequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !saneRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = base64.RawURLEncoding.EncodeToString(b[:])
		}
		c.Response().Header()[headerRequestID] = []string{id}
		return next(c)
	}
}

// saneRequestID keeps a client-supplied id only if it is short and plain,
// so it cannot forge log lines.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// RequestIDOf returns the id RequestID gave the request, for log lines.
func RequestIDOf(c echo.Context) string {
	if v := c.Response().Header()[headerRequestID]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// AccessLog logs one line per request. Only the path is logged, never the
// query string or form: they carry codes, tokens and passwords.
func (s *Site) AccessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the response now so the status is known
		}
		level := slog.LevelInfo
		if quietRoutes[c.Path()] && c.Response().Status < 400 {
			// Key-set, discovery, health and metrics fetches are polled
			// by every relying service and load balancer: at info they
			// would drown the log and cost more than serving them.
			level = slog.LevelDebug
		}
		if !s.Log.Enabled(c.Request().Context(), level) {
			return nil
		}
		s.Log.LogAttrs(c.Request().Context(), level, "request", append([]slog.Attr{
			slog.String("request_id", RequestIDOf(c)),
			slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", c.Response().Status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", c.RealIP()),
		}, traceAttrs(c)...)...)
		return nil
	}
}

// quietRoutes are logged at debug level when they succeed.
var quietRoutes = map[string]bool{
	PathJWKS: true, PathDiscovery: true, PathHealthz: true, PathReadyz: true, PathMetrics: true,
}

// RecoverPanics turns a panic into a logged server_error: the client gets a
// spec-shaped 500, never a stack trace.
func (s *Site) RecoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.Log.Error("panic", "request_id", RequestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// Header values shared by every response. Assigning these slices directly
// skips canonicalization and an allocation per header; nothing appends to
// them in place (each has len == cap, so an Add copies) and Set replaces.
var (
	hdrNosniff      = []string{"nosniff"}
	hdrNoReferrer   = []string{"no-referrer"}
	hdrDeny         = []string{"DENY"}
	hdrCSPNone      = []string{"default-src 'none'; frame-ancestors 'none'"}
	hdrHSTS         = []string{"max-age=63072000; includeSubDomains"}
	hdrAnyOrigin    = []string{"*"}
	hdrExposeHeader = []string{"WWW-Authenticate, ETag, DPoP-Nonce"}
)

// SecurityHeaders sets the headers every response carries. HTML pages add
// their own CSP with a nonce.
func (s *Site) SecurityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	hsts := s.Secure
	return func(c echo.Context) error {
		h := c.Response().Header()
		h["X-Content-Type-Options"] = hdrNosniff
		h["Referrer-Policy"] = hdrNoReferrer
		h["X-Frame-Options"] = hdrDeny
		h["Content-Security-Policy"] = hdrCSPNone
		if hsts {
			h["Strict-Transport-Security"] = hdrHSTS
		}
		return next(c)
	}
}

// CORSAnyOrigin lets browser apps on any origin call the endpoints that
// authenticate by request content, never by cookie (discovery, JWKS, token,
// UserInfo): credentials are not allowed, so no cookie ever rides along.
func CORSAnyOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin
		h["Access-Control-Expose-Headers"] = hdrExposeHeader
		return next(c)
	}
}

// Preflight answers CORS preflight requests for the token and UserInfo
// endpoints.
func Preflight(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
	h.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}

// MaxBody is the largest request body any endpoint accepts: forms and
// token requests are small.
const MaxBody = 64 << 10

// BodyLimit refuses a body over n bytes with 413 before anything parses it:
// at once when Content-Length says so, else when reading crosses n.
// Requests without a body cost nothing.
func BodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return echo.ErrStatusRequestEntityTooLarge
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			}
			return next(c)
		}
	}
}

// RejectBadText refuses, before any handler runs, a query or form value
// that is not valid UTF-8 or contains NUL: PostgreSQL cannot store such
// text, and no legitimate parameter needs it.
func RejectBadText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.URL.RawQuery != "" {
			for k, v := range r.URL.Query() {
				if !ValidValues(k, v) {
					return oauth.InvalidRequest("a parameter is not valid UTF-8 text").WithoutRedirect()
				}
			}
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			if err := r.ParseForm(); err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					return echo.ErrStatusRequestEntityTooLarge
				}
				return oauth.InvalidRequest("the body is not a valid form").WithoutRedirect()
			}
			for k, v := range r.PostForm {
				if !ValidValues(k, v) {
					return oauth.InvalidRequest("a parameter is not valid UTF-8 text").WithoutRedirect()
				}
			}
		}
		return next(c)
	}
}

// ValidText reports whether s is UTF-8 without NUL. PostgreSQL text holds
// nothing else (SQLite would), and no protocol parameter needs more, so
// such input is refused at the door instead of failing in the database as
// a 500.
func ValidText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// ValidValues applies ValidText to a parameter's name and values.
func ValidValues(k string, vals []string) bool {
	return ValidText(k) && !slices.ContainsFunc(vals, func(v string) bool { return !ValidText(v) })
}
