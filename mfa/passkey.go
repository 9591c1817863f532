package mfa

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"idp/db"
	"idp/oauth"
)

// CeremonyTTL is how long a WebAuthn challenge may be answered.
const CeremonyTTL = 5 * time.Minute

// MaxCeremonyResponse bounds the JSON a browser sends back.
const MaxCeremonyResponse = 16 << 10

// Ceremony kinds, stored with each challenge so an answer is only ever
// accepted by the ceremony it was asked for.
const (
	ceremonyRegister     = "register"
	ceremonyPasswordless = "passwordless"
	ceremonySecond       = "second"
)

// Account is the user a passkey is registered for, as the authenticator
// shows it.
type Account struct{ ID, Email, Name string }

// webauthnUser adapts an account and its passkeys to go-webauthn. The
// user handle is the user's id: random, stable, no personal data.
type webauthnUser struct {
	acct  Account
	creds []webauthn.Credential
	rows  []passkeyRow
}

func (u *webauthnUser) WebAuthnID() []byte   { return []byte(u.acct.ID) }
func (u *webauthnUser) WebAuthnName() string { return u.acct.Email }
func (u *webauthnUser) WebAuthnDisplayName() string {
	if u.acct.Name != "" {
		return u.acct.Name
	}
	return u.acct.Email
}
func (u *webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// user loads the passkeys of an account for go-webauthn.
func (s *Service) user(ctx context.Context, acct Account) (*webauthnUser, []passkeyRow, error) {
	rows, err := s.store.passkeys(ctx, acct.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("load passkeys: %w", err)
	}
	u := &webauthnUser{acct: acct, rows: rows}
	for _, r := range rows {
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(r.Credential), &c); err != nil {
			return nil, nil, fmt.Errorf("passkey %s: %w", r.ID, err)
		}
		u.creds = append(u.creds, c)
	}
	return u, rows, nil
}

// newCeremony stores the state of a ceremony under the hash of a fresh
// handle and returns the handle, for the browser to send back.
func (s *Service) newCeremony(ctx context.Context, kind, userID string, data *webauthn.SessionData) (string, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("encode ceremony: %w", err)
	}
	handle := oauth.NewSecret(32)
	err = s.store.createCeremony(ctx, &ceremonyRow{HandleHash: oauth.HashSecret(handle), Kind: kind, UserID: userID,
		Data: string(b), ExpiresAt: s.now().Add(CeremonyTTL)})
	if err != nil {
		return "", fmt.Errorf("store ceremony: %w", err)
	}
	return handle, nil
}

// takeCeremony consumes the ceremony of handle: it must exist, be of the
// kind and user expected and not have expired. Whatever the answer turns
// out to be, the challenge is spent.
func (s *Service) takeCeremony(ctx context.Context, handle, kind, userID string) (*webauthn.SessionData, error) {
	if handle == "" || len(handle) > 128 {
		return nil, fmt.Errorf("%w: no ceremony", ErrCeremony)
	}
	row, err := s.store.takeCeremony(ctx, oauth.HashSecret(handle))
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown or already used challenge", ErrCeremony)
	}
	if err != nil {
		return nil, fmt.Errorf("load ceremony: %w", err)
	}
	if row.Kind != kind || row.UserID != userID {
		return nil, fmt.Errorf("%w: the challenge was issued for another ceremony", ErrCeremony)
	}
	if !s.now().Before(row.ExpiresAt) {
		return nil, fmt.Errorf("%w: the challenge expired", ErrCeremony)
	}
	var data webauthn.SessionData
	if err := json.Unmarshal([]byte(row.Data), &data); err != nil {
		return nil, fmt.Errorf("decode ceremony: %w", err)
	}
	return &data, nil
}

// BeginRegistration starts registering a passkey for acct and returns the
// ceremony handle and the options for navigator.credentials.create. The
// passkey is discoverable (a resident key, so it can sign in without an
// email) and must verify the user; attestation is not asked for.
func (s *Service) BeginRegistration(ctx context.Context, acct Account) (string, json.RawMessage, error) {
	if s.webauthn == nil {
		return "", nil, errNoRelyingParty
	}
	u, _, err := s.user(ctx, acct)
	if err != nil {
		return "", nil, err
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, data, err := s.webauthn.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return "", nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.answer(ctx, ceremonyRegister, acct.ID, data, creation)
}

func (s *Service) answer(ctx context.Context, kind, userID string, data *webauthn.SessionData, options any) (string, json.RawMessage, error) {
	handle, err := s.newCeremony(ctx, kind, userID, data)
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(options)
	if err != nil {
		return "", nil, fmt.Errorf("encode options: %w", err)
	}
	return handle, b, nil
}

// FinishRegistration verifies the authenticator's answer to the
// registration ceremony handle and stores the passkey under name. Any
// failure stores nothing and is ErrCeremony (wrapped with the reason).
func (s *Service) FinishRegistration(ctx context.Context, acct Account, handle string, response []byte, name string) (*Passkey, error) {
	if s.webauthn == nil {
		return nil, errNoRelyingParty
	}
	data, err := s.takeCeremony(ctx, handle, ceremonyRegister, acct.ID)
	if err != nil {
		return nil, err
	}
	if len(response) > MaxCeremonyResponse {
		return nil, fmt.Errorf("%w: response too large", ErrCeremony)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCeremony, describe(err))
	}
	u, _, err := s.user(ctx, acct)
	if err != nil {
		return nil, err
	}
	cred, err := s.webauthn.CreateCredential(u, *data, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCeremony, describe(err))
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("encode passkey: %w", err)
	}
	row := &passkeyRow{ID: base64.RawURLEncoding.EncodeToString(cred.ID), UserID: acct.ID, Name: PasskeyName(name, s.now()),
		AAGUID: formatAAGUID(cred.Authenticator.AAGUID), Credential: string(b), CreatedAt: s.now()}
	if err := s.store.createPasskey(ctx, row); errors.Is(err, db.ErrConflict) {
		return nil, fmt.Errorf("%w: this passkey is already registered", ErrCeremony)
	} else if err != nil {
		return nil, fmt.Errorf("store passkey: %w", err)
	}
	p, err := passkeyOf(*row)
	return &p, err
}

// BeginLogin starts an assertion. For userID "" it is a passwordless
// sign-in with a discoverable passkey of anyone, which must verify the
// user; otherwise the second factor of that user, after a password, with
// one of their passkeys.
func (s *Service) BeginLogin(ctx context.Context, acct Account) (string, json.RawMessage, error) {
	if s.webauthn == nil {
		return "", nil, errNoRelyingParty
	}
	if acct.ID == "" {
		assertion, data, err := s.webauthn.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return "", nil, fmt.Errorf("begin passkey sign-in: %w", err)
		}
		return s.answer(ctx, ceremonyPasswordless, "", data, assertion)
	}
	u, _, err := s.user(ctx, acct)
	if err != nil {
		return "", nil, err
	}
	if len(u.creds) == 0 {
		return "", nil, ErrNotEnrolled
	}
	assertion, data, err := s.webauthn.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return "", nil, fmt.Errorf("begin passkey check: %w", err)
	}
	return s.answer(ctx, ceremonySecond, acct.ID, data, assertion)
}

// Assertion is a verified passkey sign-in.
type Assertion struct {
	UserID    string
	PasskeyID string
	Name      string
	// UserVerified: the authenticator checked the user's PIN or biometric.
	UserVerified bool
	// Synced: the key may be backed up or synced (backup eligible).
	Synced bool
}

// AMR is the methods the assertion proves: a device-bound (hwk) or
// syncable (swk) key, and user verification.
func (a *Assertion) AMR() []string {
	m := []string{AMRHardwareKey}
	if a.Synced {
		m[0] = AMRSoftwareKey
	}
	if a.UserVerified {
		m = append(m, AMRUser)
	}
	return m
}

// FinishLogin verifies the answer to the assertion ceremony handle. acct
// is the user of a second-factor check, or zero for a passwordless
// sign-in, whose user the passkey itself names. The passkey's new sign
// count is stored; a count that went backwards (a cloned authenticator)
// is refused. Any failure is ErrCeremony, wrapped with the reason.
func (s *Service) FinishLogin(ctx context.Context, acct Account, handle string, response []byte) (*Assertion, error) {
	if s.webauthn == nil {
		return nil, errNoRelyingParty
	}
	kind := ceremonySecond
	if acct.ID == "" {
		kind = ceremonyPasswordless
	}
	data, err := s.takeCeremony(ctx, handle, kind, acct.ID)
	if err != nil {
		return nil, err
	}
	if len(response) > MaxCeremonyResponse {
		return nil, fmt.Errorf("%w: response too large", ErrCeremony)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCeremony, describe(err))
	}
	var (
		user *webauthnUser
		cred *webauthn.Credential
	)
	if acct.ID == "" {
		var found webauthn.User
		found, cred, err = s.webauthn.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			if len(userHandle) > 64 || !utf8.Valid(userHandle) {
				return nil, errors.New("the user handle is not one idp issues")
			}
			u, _, err := s.user(ctx, Account{ID: string(userHandle)})
			return u, err
		}, *data, parsed)
		if err == nil {
			user = found.(*webauthnUser)
		}
	} else {
		if user, _, err = s.user(ctx, acct); err != nil {
			return nil, err
		}
		cred, err = s.webauthn.ValidateLogin(user, *data, parsed)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCeremony, describe(err))
	}
	if cred.Authenticator.CloneWarning {
		return nil, fmt.Errorf("%w: the authenticator's signature counter went backwards (a cloned key?)", ErrCeremony)
	}
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	b, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("encode passkey: %w", err)
	}
	var row *passkeyRow
	for i := range user.rows {
		if user.rows[i].ID == id {
			row = &user.rows[i]
		}
	}
	if row == nil {
		return nil, fmt.Errorf("%w: the passkey was removed", ErrCeremony)
	}
	ok, err := s.store.usePasskey(ctx, user.acct.ID, id, row.Credential, string(b), s.now())
	if err != nil {
		return nil, fmt.Errorf("record passkey use: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: the passkey was removed or used by another sign-in at the same time", ErrCeremony)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	return &Assertion{UserID: user.acct.ID, PasskeyID: id, Name: row.Name, UserVerified: flags.HasUserVerified(),
		Synced: flags.HasBackupEligible()}, nil
}

// RemovePasskey removes one of a user's passkeys.
func (s *Service) RemovePasskey(ctx context.Context, userID, id string) error {
	n, err := s.store.deletePasskey(ctx, userID, id)
	if err != nil {
		return fmt.Errorf("remove passkey: %w", err)
	}
	if n == 0 {
		return ErrNotEnrolled
	}
	return nil
}

// describe turns a go-webauthn error into a reason for the audit log.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.Details != "" {
			return pe.Details
		}
		return pe.Type
	}
	return err.Error()
}

// passkeyOf turns a row into its description.
func passkeyOf(r passkeyRow) (Passkey, error) {
	var c webauthn.Credential
	if err := json.Unmarshal([]byte(r.Credential), &c); err != nil {
		return Passkey{}, fmt.Errorf("passkey %s: %w", r.ID, err)
	}
	return Passkey{ID: r.ID, Name: r.Name, AAGUID: r.AAGUID, Synced: c.Flags.BackupEligible,
		Created: r.CreatedAt, LastUsed: r.LastUsedAt}, nil
}

// formatAAGUID writes 16 bytes as a UUID.
func formatAAGUID(b []byte) string {
	if len(b) != 16 {
		b = make([]byte, 16)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// PasskeyName cleans a user's name for a passkey: printable, at most 64
// characters; empty becomes "Passkey added <date>".
func PasskeyName(name string, now time.Time) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, strings.TrimSpace(name))
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64])
	}
	if name == "" {
		name = "Passkey added " + now.Format("2 Jan 2006")
	}
	return name
}
