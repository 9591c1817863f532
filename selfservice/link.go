package selfservice

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"idp/users"
)

// Link purposes: a token of one never works for another.
const (
	PurposeReset  = "password_reset"
	PurposeVerify = "email_verify"
	PurposeInvite = "invite"
	PurposeChange = "email_change"
)

// ErrInvalidLink is the one answer to a link that cannot be used: unknown,
// tampered with, expired, used, replaced by a newer one, made before the
// password last changed, of another purpose, or its account disabled.
// Its text is fit to show.
var ErrInvalidLink = errors.New("this link is not valid: it has expired, was already used, or a newer one was sent")

// tokenBytes is the entropy of a link token: 256 bits.
const tokenBytes = 32

// newToken returns a fresh token for a link and the hash to store.
func newToken() (token, hash string, err error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("link token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token), nil
}

// hashToken is what the store keeps and looks up: hex SHA-256. A
// 256-bit random token needs no salt or slow hash.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether token could be one newToken made, so a
// tampered or truncated one is refused without a query.
func wellFormed(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && len(b) == tokenBytes
}

// stamp digests what a link of purpose depends on, remembered when it is
// made (in the password_stamp column): a reset link the password hash,
// so any later password change (a reset, an administrator's
// set-password, a change on the account page) kills it without those
// paths knowing about links; a verification link the address, so it
// verifies nothing once the address changed.
func stamp(purpose string, u *users.User) string {
	v := u.PasswordHash
	switch purpose {
	case PurposeVerify:
		v = strings.ToLower(u.Email)
	case PurposeChange: // dies with a password change or another change of address
		v = strings.ToLower(u.Email) + "\x00" + u.PasswordHash
	}
	sum := sha256.Sum256([]byte("idp link stamp\x00" + purpose + "\x00" + v))
	return hex.EncodeToString(sum[:16])
}
