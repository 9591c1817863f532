package db_test

import (
	"testing"
	"unicode/utf8"

	"idp/db"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"},               // é is two bytes: not split
		{"aéé", 4, "aé"},             // cut lands inside the second é
		{"日本語", 5, "日"},              // three-byte characters
		{"ok\xffx", 10, "ok\uFFFDx"}, // invalid byte replaced
		{"a\x00b", 10, "a\uFFFDb"},   // NUL replaced
		{"", 5, ""},
	} {
		got := db.Clip(tc.in, tc.n)
		if got != tc.want || len(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
