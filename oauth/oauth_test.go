package oauth

import (
	"errors"
	"fmt"
	"testing"
)

func TestPKCE(t *testing.T) {
	// RFC 7636 Appendix B.
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if S256Challenge(verifier) != challenge || !VerifyPKCE(challenge, verifier) {
		t.Fatal("RFC 7636 appendix B example fails")
	}
	for _, bad := range []string{"", "short", verifier + "x"[:0] + "!", challenge} {
		if VerifyPKCE(challenge, bad) {
			t.Errorf("verifier %q accepted", bad)
		}
	}
}

func TestParseScope(t *testing.T) {
	got, ok := ParseScope("openid  email openid profile")
	if !ok || fmt.Sprint(got) != "[openid email profile]" {
		t.Fatalf("got %v %v", got, ok)
	}
	for _, bad := range []string{"open\"id", "a\\b", "é"} {
		if _, ok := ParseScope(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if !Subset([]string{"a"}, []string{"b", "a"}) || Subset([]string{"c"}, []string{"a"}) {
		t.Error("Subset")
	}
}

func TestParsePrompt(t *testing.T) {
	if p, ok := ParsePrompt("login consent"); !ok || len(p) != 2 {
		t.Errorf("login consent: %v %v", p, ok)
	}
	for _, bad := range []string{"none login", "bogus"} {
		if _, ok := ParsePrompt(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestErrorIsAndWrap(t *testing.T) {
	cause := errors.New("db down")
	e := InvalidGrant("code expired").Wrap(cause)
	if !errors.Is(e, InvalidGrant("")) || errors.Is(e, InvalidClient("")) {
		t.Error("Is compares by code")
	}
	if !errors.Is(e, cause) {
		t.Error("Unwrap loses the cause")
	}
	if e.Error() != "invalid_grant: code expired" {
		t.Errorf("Error() = %q", e.Error())
	}
	if InvalidGrant("x").cause != nil {
		t.Error("constructors must build fresh values")
	}
}

func TestSecrets(t *testing.T) {
	a, b := NewSecret(32), NewSecret(32)
	if len(a) != 43 || a == b {
		t.Fatalf("NewSecret(32) = %q, %q: want 43 distinct characters", a, b)
	}
	// SHA-256("abc"), base64url without padding.
	if got := HashSecret("abc"); got != "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0" {
		t.Fatalf("HashSecret(abc) = %s", got)
	}
}
