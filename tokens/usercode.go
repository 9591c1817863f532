package tokens

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"idp/oauth"
)

// UserCodeAlphabet is the user code's alphabet: upper-case consonants
// without vowels (no words get spelled) and without easily confused
// letters, as RFC 8628 §6.1 suggests. 20 letters, 8 of them: about 34.6
// bits, enough with the guessing throttle and a 10-minute lifetime
// (RFC 8628 §5.1).
const UserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// userCodeLen is the number of letters in a user code.
const userCodeLen = 8

// newUserCode returns a fresh user code of userCodeLen letters, without
// its dash. Rejection sampling keeps every letter equally likely.
func newUserCode() string {
	var b strings.Builder
	buf := make([]byte, 16)
	for b.Len() < userCodeLen {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go 1.24+)
		for _, x := range buf {
			// 240 is the largest multiple of 20 below 256.
			if x < 240 && b.Len() < userCodeLen {
				b.WriteByte(UserCodeAlphabet[int(x)%len(UserCodeAlphabet)])
			}
		}
	}
	return b.String()
}

// FormatUserCode shows a normalised user code as XXXX-XXXX, the form the
// user reads and types (RFC 8628 §6.1).
func FormatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// NormalizeUserCode turns what a user typed into the stored form: letters
// upper-cased, dashes and white space dropped (RFC 8628 §6.1: the
// comparison must ignore case and punctuation the user adds). ok is false
// when the result is not userCodeLen letters of the alphabet, so input
// that can never match costs no database lookup.
func NormalizeUserCode(s string) (code string, ok bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\u00a0':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if r > 0x7f || !strings.ContainsRune(UserCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}

// hashUserCode is the stored form of a normalised user code. A user code
// has only about 35 bits, so a plain hash of a leaked table would be
// reversed at once; keyed with a secret derived from the master key, it
// cannot be (RFC 8628 §5.1). Without a key (unit tests) it is a plain hash.
func (s *Service) hashUserCode(code string) string {
	if len(s.cfg.SealKey) == 0 {
		return oauth.HashSecret("user_code:" + code)
	}
	m := hmac.New(sha256.New, s.cfg.SealKey)
	m.Write([]byte("user_code:" + code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
