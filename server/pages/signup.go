package pages

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/server/plumbing"
	"idp/templates"
	"idp/users"
)

// Sign-ups are throttled per address asked for and per client address.
const (
	signupPerEmail = 3
	signupPerIP    = 10
)

func (h *Handlers) renderSignup(c echo.Context, status int, p templates.SignupPage) error {
	p.Base = h.site.Base(c, "Create an account")
	p.Domains = strings.Join(h.cfg.SignupDomains, ", ")
	return plumbing.Render(c, status, plumbing.HTMLCSP(), func(w io.Writer) error { return h.site.Templates.Signup(w, p) })
}

// SignupPage shows the registration form (--signup open only).
func (h *Handlers) SignupPage(c echo.Context) error {
	if !h.cfg.Signup {
		return echo.ErrNotFound
	}
	return h.renderSignup(c, http.StatusOK, templates.SignupPage{})
}

// Signup registers an account and mails a link to confirm the address.
// Every address gets the same answer at about the same cost: the password
// is checked and hashed first whatever happens, and an address that has
// an account is not told so on the page (its owner gets a mail instead).
// The person is not signed in: they confirm, then sign in.
func (h *Handlers) Signup(c echo.Context) error {
	if !h.cfg.Signup {
		return echo.ErrNotFound
	}
	if err := h.site.CheckCSRF(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	email, name := strings.TrimSpace(c.FormValue("email")), strings.TrimSpace(c.FormValue("name"))
	password := c.FormValue("password")
	again := func(status int, why string) error {
		return h.renderSignup(c, status, templates.SignupPage{Email: email, Name: name, Error: why})
	}
	if !plumbing.ValidText(email) || !plumbing.ValidText(name) || users.ValidateEmail(email) != nil {
		return again(http.StatusBadRequest, "That is not an email address such as name@example.com.")
	}
	if len(name) > 100 || strings.ContainsFunc(name, unicode.IsControl) {
		return again(http.StatusBadRequest, "The name must be at most 100 characters, without line breaks.")
	}
	if d := h.cfg.SignupDomains; len(d) > 0 {
		domain := strings.ToLower(email[strings.LastIndexByte(email, '@')+1:])
		if !slices.Contains(d, domain) {
			return again(http.StatusBadRequest, "Accounts here are for addresses at "+strings.Join(d, ", ")+" only.")
		}
	}
	if password != c.FormValue("confirm") {
		return again(http.StatusBadRequest, "The two passwords differ.")
	}
	wait, err := h.throttle.Request(ctx, "signup", email, c.RealIP(), signupPerEmail, signupPerIP)
	if err != nil {
		return err
	}
	if wait > 0 {
		setRetryAfter(c, wait)
		return again(http.StatusTooManyRequests, "Too many sign-ups from here. "+tooManyText(wait))
	}
	hash, err := h.site.Users.PreparePassword(ctx, email, password)
	switch {
	case errors.Is(err, users.ErrWeakPassword):
		why := strings.TrimPrefix(err.Error(), users.ErrWeakPassword.Error()+": ")
		return again(http.StatusBadRequest, "Choose another password: this one is "+policyWords(why)+".")
	case errors.Is(err, users.ErrBusy):
		c.Response().Header().Set("Retry-After", "5")
		return again(http.StatusServiceUnavailable, "Too many people are signing in right now. Try again in a few seconds.")
	case err != nil:
		return err
	}
	created, err := h.cfg.SelfService.SignUp(ctx, email, name, hash)
	if err != nil {
		return err
	}
	if created {
		h.site.RecordAs(c, email, "user.signed_up", "", "")
	} else {
		h.site.ActAs(c, email, audit.ViaWeb)
		h.site.Record(c, "signup.existing_address", "", "")
	}
	return h.renderSignup(c, http.StatusOK, templates.SignupPage{Email: email, Sent: true})
}
