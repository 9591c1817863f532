package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// RecoveryCodes is how many codes a set holds.
const RecoveryCodes = 10

// recoveryAlphabet has no 0/o, 1/l/i: codes are read off paper.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewRecoveryCodes replaces a user's recovery codes with a fresh set of
// ten and returns them, the only time they are ever shown: only hashes
// are kept, and every code of the old set stops working.
func (s *Service) NewRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes := make([]string, RecoveryCodes)
	hashes := make([]string, RecoveryCodes)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i], hashes[i] = c, recoveryHash(userID, c)
	}
	if err := s.store.replaceRecovery(ctx, userID, hashes, s.now()); err != nil {
		return nil, fmt.Errorf("store recovery codes: %w", err)
	}
	return codes, nil
}

// UseRecoveryCode spends one of a user's recovery codes; a used, unknown
// or other user's code is ErrInvalidCode.
func (s *Service) UseRecoveryCode(ctx context.Context, userID, code string) error {
	c := normalizeRecovery(code)
	if len(c) != 12 {
		return ErrInvalidCode
	}
	ok, err := s.store.useRecovery(ctx, userID, recoveryHash(userID, c), s.now())
	if err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	if !ok {
		return ErrInvalidCode
	}
	return nil
}

// newRecoveryCode makes 12 characters of a 31-letter alphabet (59 bits),
// shown as xxxx-xxxx-xxxx. Bytes of 248 and up are drawn again, so every
// letter is equally likely (248 = 8 × 31).
func newRecoveryCode() (string, error) {
	var out strings.Builder
	buf := make([]byte, 16)
	for n := 0; n < 12; {
		if err := randRead(buf); err != nil {
			return "", err
		}
		for _, x := range buf {
			if x >= 248 || n == 12 {
				continue
			}
			if n > 0 && n%4 == 0 {
				out.WriteByte('-')
			}
			out.WriteByte(recoveryAlphabet[int(x)%len(recoveryAlphabet)])
			n++
		}
	}
	return out.String(), nil
}

// normalizeRecovery lowercases and drops separators and spaces.
func normalizeRecovery(s string) string {
	if len(s) > 64 {
		return ""
	}
	var out strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ':
		case strings.ContainsRune(recoveryAlphabet, r):
			out.WriteRune(r)
		default:
			return ""
		}
	}
	return out.String()
}

// recoveryHash binds a code to its user: a code is no use to anyone else.
// The codes carry 59 random bits, so a fast hash is enough (as for every
// other high-entropy secret idp stores).
func recoveryHash(userID, code string) string {
	sum := sha256.Sum256([]byte("recovery\x00" + userID + "\x00" + normalizeRecovery(code)))
	return hex.EncodeToString(sum[:])
}
