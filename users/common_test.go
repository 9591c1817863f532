package users

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestCommonPasswordList checks the embedded list is what isCommon's
// binary search needs (sorted by bytes, unique, lower case, one per line,
// every entry long enough to matter) and that the search finds every
// entry and nothing between them.
func TestCommonPasswordList(t *testing.T) {
	if !strings.HasSuffix(commonPasswords, "\n") {
		t.Fatal("the list does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(commonPasswords, "\n"), "\n")
	if len(lines) < 30000 {
		t.Fatalf("%d entries; the top 100,000 has ~38,000 of 8 bytes or more", len(lines))
	}
	for i, l := range lines {
		switch {
		case len(l) < minPasswordLen:
			t.Fatalf("line %d %q is shorter than the length rule", i+1, l)
		case l != strings.ToLower(l):
			t.Fatalf("line %d %q is not lower case", i+1, l)
		case i > 0 && lines[i-1] >= l:
			t.Fatalf("line %d %q is not after %q", i+1, l, lines[i-1])
		}
		if !isCommon(l) || !isCommon(strings.ToUpper(l)) {
			t.Fatalf("isCommon misses line %d %q", i+1, l)
		}
		// Something just after this entry, before the next one.
		if between := l + "\x01"; (i+1 == len(lines) || between < lines[i+1]) && isCommon(between) {
			t.Fatalf("isCommon finds %q, which is not on the list", between)
		}
	}
	for _, pw := range []string{"", "\n", "\x00", "zzzzzzzzzzzzzzzzzzzzzzz~", "!!!!", "tulip-orbit-27"} {
		if isCommon(pw) {
			t.Errorf("isCommon(%q) = true", pw)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	refused := []struct{ email, password, why string }{
		{"a@example.com", "password1", "common"},
		{"a@example.com", "PassWord1", "common"},
		{"a@example.com", "QWERTYUIOP", "common"},
		{"a@example.com", "iloveyou", "common"},
		{"ada@example.com", "my-ada-horse", "email"},
		{"ada@example.com", "ADAlovelace1815", "email"},
		{"Grace.Hopper@example.com", "grace.hopper!cobol", "email"},
	}
	for _, tt := range refused {
		err := checkPassword(tt.email, tt.password)
		if !errors.Is(err, ErrWeakPassword) {
			t.Errorf("%s / %q: %v, want ErrWeakPassword", tt.email, tt.password, err)
			continue
		}
		if tt.why == "common" && !strings.Contains(err.Error(), "commonly used") ||
			tt.why == "email" && !strings.Contains(err.Error(), "email address") {
			t.Errorf("%s / %q: %q does not say why", tt.email, tt.password, err)
		}
	}
	accepted := []struct{ email, password string }{
		{"al@example.com", "al-is-a-short-local-part"}, // under 3 characters: not checked
		{"ada@example.com", "lovelace-1815-engine"},
		{"a@example.com", "correct horse battery staple"},
		{"a@example.com", strings.Repeat("x", maxPasswordLen)},
	}
	for _, tt := range accepted {
		if err := checkPassword(tt.email, tt.password); err != nil {
			t.Errorf("%s / %q: %v", tt.email, tt.password, err)
		}
	}
}

// TestPolicyOnEveryWrite: creating a user and setting a password both
// refuse a common password and one containing the email's local part,
// and write nothing.
func TestPolicyOnEveryWrite(t *testing.T) {
	s := newService(t, cheapParams)
	ctx := context.Background()
	for _, pw := range []string{"football1", "zoe-rocks-2026"} {
		if _, err := s.Create(ctx, "zoe@example.com", pw, "", nil); !errors.Is(err, ErrWeakPassword) {
			t.Fatalf("Create with %q: %v", pw, err)
		}
	}
	if n := countUsers(t, s); n != 0 {
		t.Fatalf("%d rows written", n)
	}
	mustCreate(t, s, "zoe@example.com", "tulip-orbit-27")
	for _, pw := range []string{"Trustno1", "ZOE-rocks-2026"} {
		if err := s.SetPassword(ctx, "zoe@example.com", pw); !errors.Is(err, ErrWeakPassword) {
			t.Fatalf("SetPassword with %q: %v", pw, err)
		}
	}
	if _, err := s.Authenticate(ctx, "zoe@example.com", "tulip-orbit-27"); err != nil {
		t.Fatalf("the refused changes touched the password: %v", err)
	}
}
