package users

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// User is an account that can sign in. The ID is the OIDC `sub` claim
// (OpenID Connect Core 1.0 §5.1): random and stable, never the email, so a
// user may change address without relying parties losing track of them.
type User struct {
	// ID is 16 random bytes, base64url without padding.
	ID string
	// Email is stored as entered; lookups and uniqueness ignore case.
	Email string
	// Name is the display name released with the `profile` scope.
	Name string
	// EmailVerified is released as the `email_verified` claim.
	EmailVerified bool
	// Roles are released in access tokens; "admin" opens the admin API.
	Roles []string
	// PasswordHash is an argon2id PHC string, never the password.
	PasswordHash string
	// Disabled accounts cannot sign in, whatever the password.
	Disabled bool
	// CreatedAt and UpdatedAt are UTC.
	CreatedAt, UpdatedAt time.Time
}

// HasRole reports whether u holds role exactly (roles are case-sensitive).
func (u *User) HasRole(role string) bool {
	return slices.Contains(u.Roles, role)
}

// maxEmailLen is the longest usable address: RFC 5321 §4.5.3.1.3 limits a
// path to 256 octets including the two angle brackets.
const maxEmailLen = 254

// Password length bounds, in bytes. The upper bound stops a sign-in form
// from becoming a way to make the server hash megabytes.
const (
	minPasswordLen = 8
	maxPasswordLen = 1024
)

// ValidateEmail checks an address as a new account's is checked.
func ValidateEmail(email string) error { return checkEmail(email) }

// checkEmail accepts a single bare addr-spec (RFC 5322 §3.4.1). A display
// name, angle brackets, comments or a list would be stored verbatim and then
// never match what the user types, so they are refused rather than cleaned.
func checkEmail(email string) error {
	if email == "" {
		return fmt.Errorf("%w: empty", ErrInvalidEmail)
	}
	if len(email) > maxEmailLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidEmail, maxEmailLen)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEmail, err)
	}
	if addr.Name != "" || addr.Address != email {
		return fmt.Errorf("%w: want a bare address such as name@example.com", ErrInvalidEmail)
	}
	return nil
}

// checkPassword applies the password policy of NIST SP 800-63B §3.1.1.2
// (rev. 4: §5.1.1.2): a length range, no password from a list of commonly
// used ones (any letter case), and none that contains the local part of
// the account's own email (when that is at least 3 characters: "ada" in
// "ada-lovelace-1815" for ada@example.com). A password made only of
// whitespace is refused too: it is almost always a paste or stdin mistake.
// Nothing else (no composition rules, which the guideline advises
// against).
func checkPassword(email, password string) error {
	switch {
	case len(password) < minPasswordLen:
		return fmt.Errorf("%w: shorter than %d bytes", ErrWeakPassword, minPasswordLen)
	case len(password) > maxPasswordLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrWeakPassword, maxPasswordLen)
	case strings.TrimSpace(password) == "":
		return fmt.Errorf("%w: only whitespace", ErrWeakPassword)
	case isCommon(password):
		return fmt.Errorf("%w: one of the most commonly used passwords", ErrWeakPassword)
	}
	if at := strings.LastIndexByte(email, '@'); at >= minLocalPartInPassword &&
		strings.Contains(strings.ToLower(password), strings.ToLower(email[:at])) {
		return fmt.Errorf("%w: contains the first part of the email address", ErrWeakPassword)
	}
	return nil
}

// minLocalPartInPassword is the shortest email local part that a password
// may not contain: a shorter one ("al@…") is too likely to be in any word.
const minLocalPartInPassword = 3

// normalizeRoles trims each role, drops empty ones and duplicates, and keeps
// the first-seen order so `--role` flags read back as they were given. The
// result is never nil, so it serialises as [] and not null.
func normalizeRoles(roles []string) []string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// newID returns 128 random bits, base64url-encoded. Random rather than
// sequential ids do not leak how many accounts exist or when one was made.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new user id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
