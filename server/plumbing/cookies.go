package plumbing

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Cookie names. Under https they take the __Host- prefix, which browsers
// accept only with Secure, Path=/ and no Domain, so a sibling subdomain
// cannot plant or overwrite them.
const (
	// CookieSession holds the browser's SSO session token.
	CookieSession = "idp_session"
	// CookieStep holds a half-done sign-in: a password was right, a
	// second factor is owed.
	CookieStep = "idp_signin_step"
	// CookieUpstream binds a sign-in at an upstream provider to the
	// browser that started it: it holds the state the callback must bring.
	CookieUpstream = "idp_upstream"
	// CookieUpstreamLink holds the token of a pending link (confirm-to-link,
	// issue #18) while its person signs in to the account it would join.
	CookieUpstreamLink = "idp_upstream_link"
	cookieCSRF         = "idp_csrf"
)

// cookieName is the name a cookie carries under this issuer.
func (s *Site) cookieName(base string) string {
	if s.Secure {
		return "__Host-" + base
	}
	return base
}

// SetCookie sets an HttpOnly, SameSite=Lax cookie for the whole issuer.
// maxAge 0 makes it a browser-session cookie; negative deletes it.
func (s *Site) SetCookie(c echo.Context, base, value string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name:     s.cookieName(base),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
	case maxAge > 0:
		ck.MaxAge = int(maxAge.Seconds())
	}
	c.SetCookie(ck)
}

// Cookie returns a cookie's value, or "".
func (s *Site) Cookie(c echo.Context, base string) string {
	ck, err := c.Cookie(s.cookieName(base))
	if err != nil {
		return ""
	}
	return ck.Value
}
