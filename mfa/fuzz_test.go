package mfa_test

import (
	"context"
	"errors"
	"testing"

	"idp/mfa"
	"idp/mfa/mfatest"
)

// FuzzFinishLogin feeds arbitrary answers to a live passwordless
// ceremony: none may panic, and none but the authenticator's may sign
// anyone in.
func FuzzFinishLogin(f *testing.F) {
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":"","userHandle":"YQ"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"id":"","type":"public-key","response":{"userHandle":"//79"}}`))
	e := newEnv(f)
	ctx := context.Background()
	register(f, e, mfatest.New("id.example.com", issuer), e.ada, "key")
	f.Fuzz(func(t *testing.T, answer []byte) {
		h, _, err := e.svc.BeginLogin(ctx, mfa.Account{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, answer); !errors.Is(err, mfa.ErrCeremony) {
			t.Fatalf("answer %q: %v, want ErrCeremony", answer, err)
		}
	})
}

// FuzzCodes feeds arbitrary input to the code checks: none may panic or
// be accepted.
func FuzzCodes(f *testing.F) {
	for _, s := range []string{"", "123456", "12 34 56", "abcd-efgh-jkmn", "ABCD EFGH JKMN", "\x00", "１２３４５６"} {
		f.Add(s)
	}
	e := newEnv(f)
	ctx := context.Background()
	if _, err := e.svc.NewRecoveryCodes(ctx, e.ada.ID); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if err := e.svc.UseRecoveryCode(ctx, e.ada.ID, in); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("recovery %q: %v", in, err)
		}
		if err := e.svc.VerifyTOTP(ctx, e.ada.ID, in); !errors.Is(err, mfa.ErrNotEnrolled) {
			t.Fatalf("totp %q: %v", in, err)
		}
	})
}
