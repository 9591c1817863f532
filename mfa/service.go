package mfa

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"idp/db"
)

// Config configures a Service.
type Config struct {
	// Issuer is the provider's issuer URL: the WebAuthn relying party id
	// is its host name and the only accepted origin is its scheme, host
	// and port; the authenticator app shows its host as the account's
	// issuer.
	Issuer string
	// SealKey (32 bytes, derived from the master key) seals TOTP secrets.
	SealKey []byte
	// Now is the clock.
	Now func() time.Time
}

// Service manages and checks a user's second factors.
type Service struct {
	store    *Store
	cfg      Config
	aead     cipher.AEAD
	webauthn *webauthn.WebAuthn
	host     string
}

// Errors callers tell apart; none says more than needed to a guesser.
var (
	// ErrInvalidCode is a wrong, replayed or stale code.
	ErrInvalidCode = errors.New("the code is not valid")
	// ErrNotEnrolled means the user has no such factor.
	ErrNotEnrolled = errors.New("no such factor")
	// ErrAlreadyEnrolled means an authenticator app is already confirmed.
	ErrAlreadyEnrolled = errors.New("an authenticator app is already set up")
	// ErrCeremony is any failed WebAuthn ceremony: unknown, expired,
	// reused or cross-user challenge, wrong origin or RP ID, bad signature,
	// unknown credential, a cloned authenticator.
	ErrCeremony = errors.New("the passkey could not be verified")
)

// NewService returns a Service. Passkeys need an issuer (their relying
// party id and origin come from it): without a usable one, as in admin
// commands that never run a ceremony, every ceremony fails and the other
// factors still work. A SealKey of the wrong size is a programming error.
func NewService(store *Store, cfg Config) *Service {
	if len(cfg.SealKey) != 32 {
		panic("mfa: SealKey must be 32 bytes")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	block, err := aes.NewCipher(cfg.SealKey)
	if err != nil {
		panic("mfa: aes: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("mfa: gcm: " + err.Error())
	}
	s := &Service{store: store, cfg: cfg, aead: aead, host: "idp"}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Host != "" {
		s.host = u.Hostname()
		s.webauthn, _ = webauthn.New(&webauthn.Config{
			RPID:          u.Hostname(),
			RPDisplayName: u.Hostname(),
			RPOrigins:     []string{u.Scheme + "://" + u.Host},
			Timeouts: webauthn.TimeoutsConfig{
				Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
				Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			},
		})
	}
	return s
}

// errNoRelyingParty: passkeys without a usable issuer.
var errNoRelyingParty = errors.New("mfa: passkeys need an issuer whose host is a domain name")

// PasskeysEnabled reports whether passkeys can work here: WebAuthn takes
// its relying party id from the issuer's host, which must be a domain
// name (localhost will do), never an IP address.
func (s *Service) PasskeysEnabled() bool { return s.webauthn != nil }

// Store returns the underlying store.
func (s *Service) Store() *Store { return s.store }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Factors is what a user has set up, never a secret.
type Factors struct {
	// TOTP is the confirmed authenticator app, nil if none.
	TOTP *TOTPInfo
	// Passkeys, oldest first.
	Passkeys []Passkey
	// RecoveryLeft and RecoveryTotal count the unused and all recovery
	// codes of the current set.
	RecoveryLeft, RecoveryTotal int
}

// TOTPInfo describes a confirmed authenticator app.
type TOTPInfo struct {
	Confirmed time.Time
	LastUsed  *time.Time
}

// Passkey describes a registered passkey.
type Passkey struct {
	ID       string // the credential id, base64url
	Name     string
	AAGUID   string // the authenticator model, as a UUID; all zeros when it did not say
	Synced   bool   // backup eligible: the key may leave the device
	Created  time.Time
	LastUsed *time.Time
}

// Any reports whether the user has a second factor (recovery codes alone
// do not count: they exist only beside one).
func (f Factors) Any() bool { return f.TOTP != nil || len(f.Passkeys) > 0 }

// Kinds names the factors for listings: "passkey", "totp", "recovery".
func (f Factors) Kinds() []string {
	out := []string{}
	if len(f.Passkeys) > 0 {
		out = append(out, "passkey")
	}
	if f.TOTP != nil {
		out = append(out, "totp")
	}
	if f.RecoveryLeft > 0 {
		out = append(out, "recovery")
	}
	return out
}

// Of returns the factors of a user.
func (s *Service) Of(ctx context.Context, userID string) (Factors, error) {
	var f Factors
	t, err := s.store.totp(ctx, userID)
	switch {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		return f, fmt.Errorf("load authenticator app: %w", err)
	case t.ConfirmedAt != nil:
		f.TOTP = &TOTPInfo{Confirmed: *t.ConfirmedAt, LastUsed: t.LastUsedAt}
	}
	rows, err := s.store.passkeys(ctx, userID)
	if err != nil {
		return f, fmt.Errorf("load passkeys: %w", err)
	}
	for _, r := range rows {
		p, err := passkeyOf(r)
		if err != nil {
			return f, err
		}
		f.Passkeys = append(f.Passkeys, p)
	}
	left, total, err := s.store.recoveryLeft(ctx, userID)
	if err != nil {
		return f, fmt.Errorf("count recovery codes: %w", err)
	}
	f.RecoveryLeft, f.RecoveryTotal = int(left), int(total)
	return f, nil
}

// Reset removes every factor of a user (an admin's reset-mfa) and
// reports whether there was any.
func (s *Service) Reset(ctx context.Context, userID string) (bool, error) {
	var n int64
	err := s.store.tx(ctx, func(ctx context.Context) error {
		a, err := s.store.deleteTOTP(ctx, userID)
		if err != nil {
			return err
		}
		b, err := s.store.deleteRecovery(ctx, userID)
		if err != nil {
			return err
		}
		c, err := s.store.deletePasskeysOf(ctx, userID)
		n = a + b + c
		return err
	})
	if err != nil {
		return false, fmt.Errorf("reset factors: %w", err)
	}
	return n > 0, nil
}

// Purge deletes up to limit expired WebAuthn ceremonies.
func (s *Service) Purge(ctx context.Context, limit int) (int64, error) {
	return s.store.DeleteExpired(ctx, s.now(), limit)
}

// seal and open protect TOTP secrets; the user id is the associated data,
// so a sealed secret copied to another user's row does not open there.
func (s *Service) seal(userID string, plain []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plain)+s.aead.Overhead())
	if err := randRead(out); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out, plain, []byte("totp\x00"+userID)), nil
}

func (s *Service) open(userID string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, errors.New("sealed TOTP secret is truncated")
	}
	pt, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte("totp\x00"+userID))
	if err != nil {
		return nil, errors.New("TOTP secret does not decrypt: wrong master key or tampered row")
	}
	return pt, nil
}
