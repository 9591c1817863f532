package plumbing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/labstack/echo/v4"
)

// CSRF protection is the signed double-submit pattern: the browser holds a
// random value in an HttpOnly cookie, and every form carries an HMAC of it
// under a server key. Another site can neither read the cookie nor compute
// the HMAC, and the check needs no server-side state, so it works across
// replicas.

// CSRFToken returns the form token for this browser, setting the cookie if
// the browser has none yet.
func (s *Site) CSRFToken(c echo.Context) string {
	v := s.Cookie(c, cookieCSRF)
	if !validCSRFCookie(v) {
		var b [32]byte
		_, _ = rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
		s.SetCookie(c, cookieCSRF, v, 0)
		// Later handlers in this request must see the new value.
		c.Request().AddCookie(&http.Cookie{Name: s.cookieName(cookieCSRF), Value: v})
	}
	return s.csrfMAC(v)
}

// validCSRFCookie reports whether v is a cookie CSRFToken could have set.
func validCSRFCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32
}

// csrfMAC is the form token of a CSRF cookie value.
func (s *Site) csrfMAC(cookie string) string {
	m := hmac.New(sha256.New, s.CSRFKey)
	m.Write([]byte("csrf\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF verifies the csrf_token form field against the cookie in
// constant time. A failure is a 403 page and nothing changes.
func (s *Site) CheckCSRF(c echo.Context) error {
	v := s.Cookie(c, cookieCSRF)
	got := c.FormValue("csrf_token")
	if !validCSRFCookie(v) || got == "" || !hmac.Equal([]byte(got), []byte(s.csrfMAC(v))) {
		return &PageError{
			Status:  http.StatusForbidden,
			Heading: "This form has expired",
			Message: "For your security the form could not be accepted. Go back, reload the page and try again.",
		}
	}
	return nil
}
