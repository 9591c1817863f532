package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"idp/db"
)

// RFC 6238 parameters every authenticator app understands: 30-second
// steps, six digits, HMAC-SHA-1, a 160-bit secret (RFC 4226 §4 R6).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// totpSkew is how many steps either side of now a code may be from:
	// one, for clocks a little apart and a code typed as it changes.
	totpSkew = 1
	// pendingTTL is how long an unconfirmed enrollment keeps its secret,
	// so reloading the page does not invalidate a code already scanned.
	pendingTTL = 10 * time.Minute
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

func randRead(b []byte) error {
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("random: %w", err)
	}
	return nil
}

// Enrollment is what the account page shows to set up an authenticator
// app: the secret as text, the otpauth:// URI and that URI as a QR code
// (a PNG data URI, rendered here, never fetched from anywhere).
type Enrollment struct {
	Secret string
	URI    string
	QR     string
}

// BeginTOTP starts (or, within pendingTTL, shows again) the enrollment of
// an authenticator app for a user known to the app as account. It is
// ErrAlreadyEnrolled if one is confirmed: remove it first.
func (s *Service) BeginTOTP(ctx context.Context, userID, account string) (*Enrollment, error) {
	now := s.now()
	var secret string
	old, err := s.store.totp(ctx, userID)
	switch {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("load authenticator app: %w", err)
	case old.ConfirmedAt != nil:
		return nil, ErrAlreadyEnrolled
	case now.Sub(old.CreatedAt) < pendingTTL:
		b, err := s.open(userID, old.SecretEnc)
		if err != nil {
			return nil, err
		}
		secret = string(b)
	}
	if secret == "" {
		raw := make([]byte, 20)
		if err := randRead(raw); err != nil {
			return nil, err
		}
		key, err := totp.Generate(totp.GenerateOpts{Issuer: s.host, AccountName: account, Period: totpPeriod,
			Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Secret: raw})
		if err != nil {
			return nil, fmt.Errorf("generate TOTP secret: %w", err)
		}
		secret = key.Secret()
		sealed, err := s.seal(userID, []byte(secret))
		if err != nil {
			return nil, err
		}
		ok, err := s.store.putPendingTOTP(ctx, &totpRow{UserID: userID, SecretEnc: sealed, CreatedAt: now})
		if err != nil {
			return nil, fmt.Errorf("store TOTP enrollment: %w", err)
		}
		if !ok {
			return nil, ErrAlreadyEnrolled
		}
	}
	return enrollment(s.host, account, secret)
}

// enrollment renders the otpauth URI (Key Uri Format) and its QR code.
func enrollment(issuer, account, secret string) (*Enrollment, error) {
	key, err := otp.NewKeyFromURL(fmt.Sprintf("otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=6&period=30",
		pathEscape(issuer), pathEscape(account), secret, queryEscape(issuer)))
	if err != nil {
		return nil, fmt.Errorf("TOTP key URI: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("TOTP QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("TOTP QR code: %w", err)
	}
	return &Enrollment{Secret: secret, URI: key.URL(),
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// ConfirmTOTP finishes an enrollment with the first code from the app.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) error {
	row, err := s.store.totp(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return ErrNotEnrolled
	}
	if err != nil {
		return fmt.Errorf("load authenticator app: %w", err)
	}
	if row.ConfirmedAt != nil {
		return ErrAlreadyEnrolled
	}
	return s.acceptCode(ctx, row, code, true)
}

// VerifyTOTP checks a code from a confirmed authenticator app. A code is
// accepted once: the same code again, or a code of an earlier step than
// one already accepted, is ErrInvalidCode.
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) error {
	row, err := s.store.totp(ctx, userID)
	if errors.Is(err, db.ErrNotFound) {
		return ErrNotEnrolled
	}
	if err != nil {
		return fmt.Errorf("load authenticator app: %w", err)
	}
	if row.ConfirmedAt == nil {
		return ErrNotEnrolled
	}
	return s.acceptCode(ctx, row, code, false)
}

// acceptCode finds the time step code belongs to (now, or one either
// side) by comparing in constant time, then claims that step with one
// conditional write.
func (s *Service) acceptCode(ctx context.Context, row *totpRow, code string, confirm bool) error {
	code = normalizeDigits(code)
	if len(code) != totpDigits.Length() {
		return ErrInvalidCode
	}
	secret, err := s.open(row.UserID, row.SecretEnc)
	if err != nil {
		return err
	}
	now := s.now()
	step := now.Unix() / totpPeriod
	matched := int64(-1)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix((step+d)*totpPeriod, 0), totpOpts)
		if err != nil {
			return fmt.Errorf("TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = step + d
		}
	}
	if matched < 0 {
		return ErrInvalidCode
	}
	ok, err := s.store.acceptStep(ctx, row.UserID, matched, confirm, now)
	if err != nil {
		return fmt.Errorf("record TOTP step: %w", err)
	}
	if !ok {
		return ErrInvalidCode // replayed, or an older step than one used
	}
	return nil
}

// RemoveTOTP removes a user's authenticator app (confirmed or pending).
func (s *Service) RemoveTOTP(ctx context.Context, userID string) error {
	n, err := s.store.deleteTOTP(ctx, userID)
	if err != nil {
		return fmt.Errorf("remove authenticator app: %w", err)
	}
	if n == 0 {
		return ErrNotEnrolled
	}
	return nil
}

// normalizeDigits drops the spaces and dashes people type inside codes.
func normalizeDigits(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '-':
		case c >= '0' && c <= '9':
			out = append(out, c)
		default:
			return "" // anything else: not a code
		}
	}
	return string(out)
}

func pathEscape(s string) string  { return url.PathEscape(s) }
func queryEscape(s string) string { return url.QueryEscape(s) }
