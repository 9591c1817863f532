package tokens

import (
	"strings"
	"testing"
)

// FuzzNormalizeUserCode: whatever a user types, a code that normalises is
// exactly userCodeLen letters of the alphabet, and normalising its shown
// form gives it back.
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "WXZB-QRST", "", "----", "BCDF-GHJA", "ÄBCD-FGHJ", "BCDF\x00GHJK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, ok := NormalizeUserCode(in)
		if !ok {
			if code != "" {
				t.Fatalf("refused %q but returned %q", in, code)
			}
			return
		}
		if len(code) != userCodeLen || strings.Trim(code, UserCodeAlphabet) != "" {
			t.Fatalf("NormalizeUserCode(%q) = %q", in, code)
		}
		if again, ok := NormalizeUserCode(FormatUserCode(code)); !ok || again != code {
			t.Fatalf("round trip of %q gave %q", code, again)
		}
	})
}
