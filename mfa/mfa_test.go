package mfa_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"idp/db"
	"idp/db/dbtest"
	"idp/mfa"
	"idp/mfa/mfatest"
	"idp/users"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	svc   *mfa.Service
	db    *db.DB
	clock *clock
	ada   mfa.Account
	bob   mfa.Account
}

const issuer = "https://id.example.com"

func newEnv(t testing.TB) *env {
	t.Helper()
	d := dbtest.Open(t)
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, c.Now)
	e := &env{db: d, clock: c, svc: mfa.NewService(mfa.NewStore(d.Gorm), mfa.Config{Issuer: issuer,
		SealKey: []byte("0123456789abcdef0123456789abcdef"), Now: c.Now})}
	for _, a := range []*mfa.Account{&e.ada, &e.bob} {
		email := "ada@example.com"
		if a == &e.bob {
			email = "bob@example.com"
		}
		u, err := us.Create(context.Background(), email, "Correct-Horse-9", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		*a = mfa.Account{ID: u.ID, Email: u.Email}
	}
	return e
}

func (e *env) count(t *testing.T, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.db.Gorm.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAMRAndACRRules(t *testing.T) {
	for _, tc := range []struct {
		have, more []string
		want       []string
		level      mfa.Level
	}{
		{nil, []string{"pwd"}, []string{"pwd"}, mfa.LevelPassword},
		{[]string{"pwd"}, []string{"otp"}, []string{"pwd", "otp", "mfa"}, mfa.LevelMFA},
		{[]string{"pwd"}, []string{"hwk"}, []string{"pwd", "hwk", "mfa"}, mfa.LevelPhishingResistant},
		{nil, []string{"swk", "user"}, []string{"swk", "user", "mfa"}, mfa.LevelPhishingResistant},
		{nil, []string{"hwk"}, []string{"hwk"}, mfa.LevelPassword}, // a key alone, no verification: one factor
		{[]string{"pwd", "otp", "mfa"}, []string{"otp"}, []string{"pwd", "otp", "mfa"}, mfa.LevelMFA},
		{[]string{"user", "pwd"}, nil, []string{"pwd", "user", "mfa"}, mfa.LevelMFA},
	} {
		got := mfa.Combine(tc.have, tc.more...)
		if !slices.Equal(got, tc.want) || mfa.Assurance(got) != tc.level {
			t.Errorf("Combine(%v, %v) = %v level %d, want %v level %d", tc.have, tc.more, got, mfa.Assurance(got), tc.want, tc.level)
		}
	}
	if mfa.Assurance(nil) != mfa.LevelNone {
		t.Error("no methods is no assurance")
	}
	if l := mfa.Required([]string{"urn:x", mfa.ACRPhishingResistant, mfa.ACRMFA}, false); l != mfa.LevelMFA {
		t.Errorf("Required takes the weakest known value: %d", l)
	}
	if l := mfa.Required([]string{"urn:unknown"}, false); l != mfa.LevelNone {
		t.Errorf("unknown values are ignored: %d", l)
	}
	if l := mfa.Required([]string{mfa.ACRPassword}, true); l != mfa.LevelMFA {
		t.Errorf("a demand raises to mfa: %d", l)
	}
	if got := mfa.IssuedACR([]string{mfa.ACRPhishingResistant, mfa.ACRMFA}, mfa.LevelMFA); got != mfa.ACRMFA {
		t.Errorf("IssuedACR = %q, want the first value reached", got)
	}
	if got := mfa.IssuedACR(nil, mfa.LevelPhishingResistant); got != mfa.ACRPhishingResistant {
		t.Errorf("IssuedACR without a request = %q", got)
	}
}

func TestTOTPEnrollmentAndSingleUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	en, err := e.svc.BeginTOTP(ctx, e.ada.ID, e.ada.Email)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(en.QR, "data:image/png;base64,") || !strings.Contains(en.URI, "secret="+en.Secret) {
		t.Fatalf("enrollment %+v", en)
	}
	again, _ := e.svc.BeginTOTP(ctx, e.ada.ID, e.ada.Email)
	if again.Secret != en.Secret {
		t.Error("reloading the set-up page changed the secret")
	}
	if err := e.svc.VerifyTOTP(ctx, e.ada.ID, code(t, en.Secret, e.clock.Now())); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Errorf("an unconfirmed app verified: %v", err)
	}
	if err := e.svc.ConfirmTOTP(ctx, e.ada.ID, "12345x"); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("garbage confirmed: %v", err)
	}
	if err := e.svc.ConfirmTOTP(ctx, e.ada.ID, code(t, en.Secret, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BeginTOTP(ctx, e.ada.ID, e.ada.Email); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
		t.Errorf("a second app over a confirmed one: %v", err)
	}
	now := e.clock.Now()
	if err := e.svc.VerifyTOTP(ctx, e.ada.ID, code(t, en.Secret, now)); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("the confirmation code worked again: %v", err)
	}
	e.clock.Advance(90 * time.Second)
	now = e.clock.Now()
	if err := e.svc.VerifyTOTP(ctx, e.ada.ID, code(t, en.Secret, now.Add(-60*time.Second))); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("a code two steps old: %v", err)
	}
	if err := e.svc.VerifyTOTP(ctx, e.ada.ID, code(t, en.Secret, now.Add(60*time.Second))); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("a code two steps ahead: %v", err)
	}
	if err := e.svc.VerifyTOTP(ctx, e.ada.ID, code(t, en.Secret, now)); err != nil {
		t.Fatalf("the current code: %v", err)
	}
	if err := e.svc.VerifyTOTP(ctx, e.ada.ID, code(t, en.Secret, now.Add(-30*time.Second))); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("an older step after a newer one was used: %v", err)
	}
	if err := e.svc.VerifyTOTP(ctx, e.bob.ID, code(t, en.Secret, now.Add(30*time.Second))); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Errorf("ada's code for bob: %v", err)
	}

	// Racing requests with one code: exactly one wins.
	e.clock.Advance(30 * time.Second)
	c := code(t, en.Secret, e.clock.Now())
	errs := dbtest.Race(8, func(int) error { return e.svc.VerifyTOTP(ctx, e.ada.ID, c) })
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, mfa.ErrInvalidCode):
			t.Errorf("racer: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d racers accepted one code, want 1", won)
	}

	// The secret is sealed to its user: moved to bob's row it does not open.
	var sealed []byte
	if err := e.db.Gorm.Raw("SELECT secret_enc FROM totp_factors WHERE user_id = ?", e.ada.ID).Row().Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), en.Secret) {
		t.Fatal("the secret is stored in the clear")
	}
	if err := e.db.Gorm.Exec("INSERT INTO totp_factors (user_id, secret_enc, last_step, created_at, confirmed_at) VALUES (?, ?, 0, ?, ?)",
		e.bob.ID, sealed, e.clock.Now(), e.clock.Now()).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.svc.VerifyTOTP(ctx, e.bob.ID, code(t, en.Secret, e.clock.Now().Add(30*time.Second))); err == nil || errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("a sealed secret copied to another user opened: %v", err)
	}
	if err := e.svc.RemoveTOTP(ctx, e.ada.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveTOTP(ctx, e.ada.ID); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Errorf("removing twice: %v", err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	codes, err := e.svc.NewRecoveryCodes(ctx, e.ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 14 || c[4] != '-' || c[9] != '-' || seen[c] {
			t.Fatalf("code %q (want distinct xxxx-xxxx-xxxx)", c)
		}
		seen[c] = true
		if e.count(t, "recovery_codes", "code_hash = ?", c) != 0 {
			t.Fatal("a code is stored in the clear")
		}
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	if err := e.svc.UseRecoveryCode(ctx, e.bob.ID, codes[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("ada's code for bob: %v", err)
	}
	if err := e.svc.UseRecoveryCode(ctx, e.ada.ID, " "+strings.ToUpper(codes[0])+" "); err != nil {
		t.Errorf("a code typed in capitals: %v", err)
	}
	if err := e.svc.UseRecoveryCode(ctx, e.ada.ID, codes[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("a code used twice: %v", err)
	}
	for _, bad := range []string{"", "abcd", "<script>", strings.Repeat("a", 500)} {
		if err := e.svc.UseRecoveryCode(ctx, e.ada.ID, bad); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	errs := dbtest.Race(8, func(int) error { return e.svc.UseRecoveryCode(ctx, e.ada.ID, codes[1]) })
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("racer: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d racers used one code", won)
	}
	fresh, err := e.svc.NewRecoveryCodes(ctx, e.ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.UseRecoveryCode(ctx, e.ada.ID, codes[2]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("an old code after regenerating: %v", err)
	}
	if err := e.svc.UseRecoveryCode(ctx, e.ada.ID, fresh[0]); err != nil {
		t.Errorf("a new code: %v", err)
	}
	f, _ := e.svc.Of(ctx, e.ada.ID)
	if f.RecoveryLeft != 9 || f.RecoveryTotal != 10 || f.Any() {
		t.Errorf("factors %+v (recovery codes alone are not a factor)", f)
	}
}

// register adds a passkey of a to acct.
func register(t testing.TB, e *env, a *mfatest.Authenticator, acct mfa.Account, name string) *mfa.Passkey {
	t.Helper()
	handle, opts, err := e.svc.BeginRegistration(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.FinishRegistration(context.Background(), acct, handle, resp, name)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return p
}

func TestPasskeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := mfatest.New("id.example.com", issuer)
	a.BE = true
	p := register(t, e, a, e.ada, "  Laptop\x00 ")
	if p.Name != "Laptop" || !p.Synced || p.AAGUID != "adce0002-0000-0000-0000-000000000000" {
		t.Errorf("passkey %+v", p)
	}
	// Registering the same authenticator again is excluded by the options.
	_, opts, _ := e.svc.BeginRegistration(ctx, e.ada)
	var o struct {
		PublicKey struct {
			Exclude []struct{ ID string } `json:"excludeCredentials"`
			Sel     struct {
				UV string `json:"userVerification"`
				RK string `json:"residentKey"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	_ = json.Unmarshal(opts, &o)
	if len(o.PublicKey.Exclude) != 1 || o.PublicKey.Exclude[0].ID != p.ID || o.PublicKey.Sel.UV != "required" || o.PublicKey.Sel.RK != "required" {
		t.Errorf("registration options %s", opts)
	}

	// Passwordless: the passkey names its user.
	handle, opts, err := e.svc.BeginLogin(ctx, mfa.Account{})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := a.Get(opts)
	as, err := e.svc.FinishLogin(ctx, mfa.Account{}, handle, resp)
	if err != nil {
		t.Fatalf("passwordless: %v", err)
	}
	if as.UserID != e.ada.ID || !as.UserVerified || !slices.Equal(as.AMR(), []string{"swk", "user"}) || as.Name != "Laptop" {
		t.Errorf("assertion %+v amr %v", as, as.AMR())
	}
	// Second factor of ada.
	handle, opts, _ = e.svc.BeginLogin(ctx, e.ada)
	resp, _ = a.Get(opts)
	if _, err := e.svc.FinishLogin(ctx, e.ada, handle, resp); err != nil {
		t.Fatalf("second factor: %v", err)
	}
	f, _ := e.svc.Of(ctx, e.ada.ID)
	if len(f.Passkeys) != 1 || f.Passkeys[0].LastUsed == nil || !slices.Equal(f.Kinds(), []string{"passkey"}) {
		t.Errorf("factors %+v", f)
	}
	if _, _, err := e.svc.BeginLogin(ctx, e.bob); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Errorf("second factor for a user without passkeys: %v", err)
	}
	if err := e.svc.RemovePasskey(ctx, e.bob.ID, p.ID); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Errorf("bob removed ada's passkey: %v", err)
	}
	if removed, err := e.svc.Reset(ctx, e.ada.ID); err != nil || !removed {
		t.Errorf("reset: %v %v", removed, err)
	}
	if f, _ := e.svc.Of(ctx, e.ada.ID); f.Any() {
		t.Error("a factor survived the reset")
	}
}

// TestPasskeyRefusals: every forged, replayed, cross-user, expired or
// malformed answer is ErrCeremony and changes nothing stored.
// TestPasskeyClonesRacing: answers made by copies of one authenticator
// carry the same sign count; however many race, exactly one is recorded
// (the others find the passkey already moved on), on both the
// passwordless and the second-factor path.
func TestPasskeyClonesRacing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := mfatest.New("id.example.com", issuer)
	register(t, e, a, e.ada, "key")
	cred := a.Credentials()[0]
	for round := range 6 {
		acct := mfa.Account{}
		if round%2 == 1 {
			acct = e.ada
		}
		const racers = 4
		handles, answers := make([]string, racers), make([][]byte, racers)
		count := cred.Count
		for i := range racers {
			h, o, err := e.svc.BeginLogin(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			cred.Count = count // every clone starts from the same counter
			if answers[i], err = a.Get(o); err != nil {
				t.Fatal(err)
			}
			handles[i] = h
		}
		errs := dbtest.Race(racers, func(i int) error {
			_, err := e.svc.FinishLogin(ctx, acct, handles[i], answers[i])
			return err
		})
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, mfa.ErrCeremony):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d clones signed in with one sign count, want exactly 1 (%v)", round, won, racers, errs)
		}
	}
}

func TestPasskeyRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ada := mfatest.New("id.example.com", issuer)
	bob := mfatest.New("id.example.com", issuer)
	register(t, e, ada, e.ada, "ada's key")
	register(t, e, bob, e.bob, "bob's key")
	snapshot := func() string {
		var rows []struct{ ID, Credential string }
		if err := e.db.Gorm.Raw("SELECT id, credential FROM passkeys ORDER BY id").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rows)
		return string(b) + "|" + string(rune('0'+e.count(t, "passkeys", "last_used_at IS NOT NULL")))
	}
	before := snapshot()

	passwordless := func(t *testing.T) (string, []byte) {
		h, o, err := e.svc.BeginLogin(ctx, mfa.Account{})
		if err != nil {
			t.Fatal(err)
		}
		return h, o
	}
	challengeOf := func(opts []byte) string {
		var o struct {
			PublicKey struct{ Challenge string } `json:"publicKey"`
		}
		_ = json.Unmarshal(opts, &o)
		return o.PublicKey.Challenge
	}
	cases := []struct {
		name string
		run  func(t *testing.T) error
	}{
		{"wrong origin", func(t *testing.T) error {
			h, o := passwordless(t)
			ada.Origin = "https://evil.example"
			defer func() { ada.Origin = issuer }()
			r, _ := ada.Get(o)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			return err
		}},
		{"wrong RP ID", func(t *testing.T) error {
			h, o := passwordless(t)
			ada.RPID = "evil.example"
			defer func() { ada.RPID = "id.example.com" }()
			r, _ := ada.Get(o)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			return err
		}},
		{"no user verification on a passwordless sign-in", func(t *testing.T) error {
			h, o := passwordless(t)
			ada.UV = false
			defer func() { ada.UV = true }()
			r, _ := ada.Get(o)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			return err
		}},
		{"tampered signature", func(t *testing.T) error {
			h, o := passwordless(t)
			r, _ := ada.Get(o)
			var m map[string]any
			_ = json.Unmarshal(r, &m)
			resp := m["response"].(map[string]any)
			sig := []byte(resp["signature"].(string))
			sig[10] ^= 1
			resp["signature"] = string(sig)
			r, _ = json.Marshal(m)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			return err
		}},
		{"another challenge signed", func(t *testing.T) error {
			h, _ := passwordless(t)
			r, _ := ada.Sign(ada.Credentials()[0], "c29tZSBvdGhlciBjaGFsbGVuZ2U")
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			return err
		}},
		{"a challenge used twice", func(t *testing.T) error {
			h, o := passwordless(t)
			r, _ := ada.Get(o)
			if _, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r); err != nil {
				t.Fatalf("first use: %v", err)
			}
			before = snapshot() // the first use is legitimate
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			return err
		}},
		{"a challenge older than its lifetime", func(t *testing.T) error {
			h, o := passwordless(t)
			r, _ := ada.Get(o)
			e.clock.Advance(mfa.CeremonyTTL + time.Second)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			return err
		}},
		{"ada's second-factor challenge answered by bob's passkey", func(t *testing.T) error {
			h, o, _ := e.svc.BeginLogin(ctx, e.ada)
			r, _ := bob.Sign(bob.Credentials()[0], challengeOf(o))
			_, err := e.svc.FinishLogin(ctx, e.ada, h, r)
			return err
		}},
		{"ada's second-factor challenge finished as bob", func(t *testing.T) error {
			h, o, _ := e.svc.BeginLogin(ctx, e.ada)
			r, _ := bob.Sign(bob.Credentials()[0], challengeOf(o))
			_, err := e.svc.FinishLogin(ctx, e.bob, h, r)
			return err
		}},
		{"a passwordless challenge finished as a second factor", func(t *testing.T) error {
			h, o := passwordless(t)
			r, _ := ada.Get(o)
			_, err := e.svc.FinishLogin(ctx, e.ada, h, r)
			return err
		}},
		{"a registration challenge answered with an assertion", func(t *testing.T) error {
			h, o, _ := e.svc.BeginRegistration(ctx, e.ada)
			r, _ := ada.Sign(ada.Credentials()[0], challengeOf(o))
			_, err := e.svc.FinishLogin(ctx, e.ada, h, r)
			return err
		}},
		{"an assertion offered as a registration", func(t *testing.T) error {
			h, o, _ := e.svc.BeginRegistration(ctx, e.ada)
			r, _ := ada.Sign(ada.Credentials()[0], challengeOf(o))
			_, err := e.svc.FinishRegistration(ctx, e.ada, h, r, "x")
			return err
		}},
		{"bob finishing ada's registration", func(t *testing.T) error {
			h, o, _ := e.svc.BeginRegistration(ctx, e.ada)
			r, _ := bob.Create(o)
			_, err := e.svc.FinishRegistration(ctx, e.bob, h, r, "x")
			return err
		}},
		{"a registration from the wrong origin", func(t *testing.T) error {
			h, o, _ := e.svc.BeginRegistration(ctx, e.bob)
			evil := mfatest.New("id.example.com", "https://evil.example")
			r, _ := evil.Create(o)
			_, err := e.svc.FinishRegistration(ctx, e.bob, h, r, "x")
			return err
		}},
		{"a cloned authenticator (counter went back)", func(t *testing.T) error {
			c := ada.Credentials()[0]
			c.Count = 0
			h, o := passwordless(t)
			r, _ := ada.Get(o) // counter 1, below what was seen
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, r)
			c.Count = 100
			return err
		}},
		{"garbage", func(t *testing.T) error {
			h, _ := passwordless(t)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, []byte(`{"id":"AAAA","type":"public-key","response":{}}`))
			return err
		}},
		{"an oversize answer", func(t *testing.T) error {
			h, _ := passwordless(t)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, h, []byte(strings.Repeat("a", mfa.MaxCeremonyResponse+1)))
			return err
		}},
		{"an unknown handle", func(t *testing.T) error {
			_, o := passwordless(t)
			r, _ := ada.Get(o)
			_, err := e.svc.FinishLogin(ctx, mfa.Account{}, "not-a-handle", r)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t)
			t.Logf("refused: %v", err)
			if !errors.Is(err, mfa.ErrCeremony) {
				t.Errorf("err = %v, want ErrCeremony", err)
			}
			if after := snapshot(); after != before {
				t.Errorf("stored passkeys changed:\n%s\n%s", before, after)
			}
			if n := e.count(t, "passkeys", ""); n != 2 {
				t.Errorf("%d passkeys stored, want 2", n)
			}
		})
	}
}
