package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// NewSecret returns n random bytes, base64url without padding: the form of
// every bearer secret and random handle idp issues (codes, refresh tokens,
// session cookies, request and family ids, jti).
func NewSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret is the stored form of a high-entropy bearer secret: its
// SHA-256, base64url. Secrets of 128 bits or more need no salt or slow
// hash; a lookup by this value finds the row without keeping the secret.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
