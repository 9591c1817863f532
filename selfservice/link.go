package selfservice

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// Link purposes: a token of one never works for another.
const (
	PurposeReset = "password_reset"
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

// passwordStamp digests a password hash: a link remembers the stamp of
// the password when it was made, so any later password change (a reset,
// an administrator's set-password, a change on the account page) kills
// it without those paths knowing about links.
func passwordStamp(passwordHash string) string {
	sum := sha256.Sum256([]byte("idp link stamp\x00" + passwordHash))
	return hex.EncodeToString(sum[:16])
}
