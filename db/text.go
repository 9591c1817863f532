package db

import (
	"strings"
	"unicode/utf8"
)

// Clip makes request-supplied text (an address, a user agent, a name) fit a
// column on both dialects: at most n bytes, cut at a character boundary,
// with invalid UTF-8 and NUL replaced by U+FFFD. PostgreSQL refuses text
// that is not UTF-8 or holds NUL, and a byte cut can split a character.
func Clip(s string, n int) string {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
