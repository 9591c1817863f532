package mail

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
)

// ErrInvalidAddress means a name or address cannot go into a mail header:
// not a single bare address, too long, or carrying control characters
// such as CR or LF that would start a header of their own.
var ErrInvalidAddress = errors.New("invalid mail address")

// maxAddressLen is RFC 5321 §4.5.3.1.3's limit on a path less the angle
// brackets; maxNameLen keeps a display name to one reasonable line.
const (
	maxAddressLen = 254
	maxNameLen    = 200
)

// Address is a validated mailbox: a bare addr-spec (RFC 5322 §3.4.1) and
// an optional display name, neither with a control character. Build one
// with NewAddress or ParseAddress; the zero value is not a valid address.
type Address struct {
	Name  string
	Email string
}

// NewAddress validates a display name and a bare address. The name is
// trimmed; it may hold any printable text (go-mail encodes it per RFC
// 2047), but no control character, so it can never end a header line.
func NewAddress(name, email string) (Address, error) {
	name = strings.TrimSpace(name)
	if err := headerSafe(name); err != nil {
		return Address{}, fmt.Errorf("%w: name %v", ErrInvalidAddress, err)
	}
	if len(name) > maxNameLen {
		return Address{}, fmt.Errorf("%w: name longer than %d bytes", ErrInvalidAddress, maxNameLen)
	}
	if err := headerSafe(email); err != nil {
		return Address{}, fmt.Errorf("%w: address %v", ErrInvalidAddress, err)
	}
	if email == "" || len(email) > maxAddressLen {
		return Address{}, fmt.Errorf("%w: address must be 1 to %d bytes", ErrInvalidAddress, maxAddressLen)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return Address{}, fmt.Errorf("%w: %q is not a bare address such as name@example.com", ErrInvalidAddress, email)
	}
	return Address{Name: name, Email: email}, nil
}

// ParseAddress reads a sender setting such as `idp <idp@example.com>` or
// `idp@example.com` (RFC 5322 §3.4), refusing lists, groups and control
// characters.
func ParseAddress(s string) (Address, error) {
	if err := headerSafe(s); err != nil {
		return Address{}, fmt.Errorf("%w: %v", ErrInvalidAddress, err)
	}
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return Address{}, fmt.Errorf("%w: %q: %v", ErrInvalidAddress, s, err)
	}
	return NewAddress(a.Name, a.Address)
}

// String is the address as a header value, the name quoted as needed
// (net/mail encodes non-ASCII names per RFC 2047).
func (a Address) String() string {
	return (&mail.Address{Name: a.Name, Address: a.Email}).String()
}

// headerSafe refuses control characters (CR, LF, NUL, tab, DEL, …) and
// invalid UTF-8: the only way text could break out of a header value.
func headerSafe(s string) error {
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return errors.New("contains a control character or invalid UTF-8")
		}
	}
	return nil
}
