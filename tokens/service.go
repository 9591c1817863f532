package tokens

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"idp/audit"
	"idp/db"
	"idp/oauth"
	"idp/users"
)

// Signer signs a JWT payload with the active key of an algorithm;
// *keys.Manager satisfies it.
type Signer interface {
	Sign(ctx context.Context, alg string, payload []byte, typ string) (string, error)
}

// Verifier checks a JWS against idp's published keys and returns its
// payload; the algorithm comes from the key, never from the token.
type Verifier interface {
	Verify(ctx context.Context, token string) (payload []byte, kid string, err error)
}

// Config holds the lifetimes and the issuer.
type Config struct {
	Issuer         string
	AccessTokenTTL time.Duration
	// CodeTTL is the authorization code lifetime (default 60 s).
	CodeTTL time.Duration
	// RequestTTL bounds how long a user may take to sign in (default 30 min).
	RequestTTL time.Duration
	// PushedTTL is the lifetime of a pushed request's request_uri
	// (default DefaultPushedTTL).
	PushedTTL time.Duration
	// RefreshTokenTTL is a refresh family's absolute lifetime (default 720h).
	RefreshTokenTTL time.Duration
	// RefreshIdleTTL expires a refresh token unused this long (default
	// RefreshTokenTTL, i.e. no idle limit of its own).
	RefreshIdleTTL time.Duration
	// ReuseGrace is how long a used refresh token still returns the same
	// child to the same client (a lost response retried); 0 is strict.
	ReuseGrace time.Duration
	// SealKey (32 bytes) encrypts the child response kept for ReuseGrace.
	SealKey []byte
	// Resources, if set, admits only registered resources into access
	// tokens and applies their algorithm and lifetime.
	Resources ResourcePolicy
	// Audit, if set, records reuse detections and family revocations.
	Audit *audit.Log
	// UpstreamCheck, if set, is asked at each refresh of a family signed
	// in through an upstream provider (upstream.go).
	UpstreamCheck UpstreamCheck
	Now           func() time.Time
}

// Service issues, redeems and verifies tokens.
type Service struct {
	cfg      Config
	store    *Store
	signer   Signer
	verifier Verifier
	users    *users.Store
	// onSessionGrant records which clients obtained tokens in a session.
	onSessionGrant SessionGrantHook
}

// ErrRequestGone means an authorization request is unknown, expired or
// already answered.
var ErrRequestGone = errors.New("authorization request expired or already used")

// NewService wires the token service.
func NewService(store *Store, signer Signer, verifier Verifier, us *users.Store, cfg Config) *Service {
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = time.Minute
	}
	if cfg.RequestTTL == 0 {
		cfg.RequestTTL = 30 * time.Minute
	}
	if cfg.PushedTTL == 0 {
		cfg.PushedTTL = DefaultPushedTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshTokenTTL == 0 {
		cfg.RefreshTokenTTL = 720 * time.Hour
	}
	if cfg.RefreshIdleTTL == 0 || cfg.RefreshIdleTTL > cfg.RefreshTokenTTL {
		cfg.RefreshIdleTTL = cfg.RefreshTokenTTL
	}
	return &Service{cfg: cfg, store: store, signer: signer, verifier: verifier, users: us}
}

// Store returns the underlying store (for the purge loop).
func (s *Service) Store() *Store { return s.store }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// SaveAuthRequest stores a validated authorization request and sets its id
// and expiry.
func (s *Service) SaveAuthRequest(ctx context.Context, r *AuthRequest) error {
	now := s.now()
	r.ID, r.CreatedAt, r.ExpiresAt = oauth.NewSecret(16), now, now.Add(s.cfg.RequestTTL)
	row := &authRequestRow{
		ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, ResponseMode: r.ResponseMode,
		Scope: oauth.JoinScope(r.Scopes), State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge,
		CodeChallengeMethod: r.CodeChallengeMethod, Prompt: strings.Join(r.Prompt, " "), MaxAge: r.MaxAge,
		LoginHint: r.LoginHint, ACRValues: strings.Join(r.ACRValues, " "), Resources: nonNil(r.Resources),
		DPoPJKT: r.DPoPJKT, CreatedAt: now, ExpiresAt: r.ExpiresAt,
	}
	if err := s.store.createAuthRequest(ctx, row); err != nil {
		return fmt.Errorf("save authorization request: %w", err)
	}
	return nil
}

// AuthRequest loads a live authorization request, or ErrRequestGone.
func (s *Service) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrRequestGone
	}
	row, err := s.store.authRequest(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrRequestGone
	}
	if err != nil {
		return nil, fmt.Errorf("load authorization request: %w", err)
	}
	if !s.now().Before(row.ExpiresAt) {
		return nil, ErrRequestGone
	}
	scopes, _ := oauth.ParseScope(row.Scope)
	return &AuthRequest{
		ID: row.ID, ClientID: row.ClientID, RedirectURI: row.RedirectURI, ResponseMode: row.ResponseMode,
		Scopes: scopes, State: row.State, Nonce: row.Nonce, CodeChallenge: row.CodeChallenge,
		CodeChallengeMethod: row.CodeChallengeMethod, Prompt: strings.Fields(row.Prompt), MaxAge: row.MaxAge,
		LoginHint: row.LoginHint, ACRValues: strings.Fields(row.ACRValues), Resources: row.Resources, DPoPJKT: row.DPoPJKT, LoggedInAt: row.LoggedInAt,
		CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt,
	}, nil
}

// MarkLoggedIn records that the user signed in for this request.
func (s *Service) MarkLoggedIn(ctx context.Context, id string) error {
	return s.store.MarkLoggedIn(ctx, id, s.now())
}

// CancelAuthRequest removes a request the user denied.
func (s *Service) CancelAuthRequest(ctx context.Context, id string) error {
	_, err := s.store.DeleteAuthRequest(ctx, id)
	return err
}

// NeedsConsent reports whether the user must approve scopes for a client:
// never for trusted clients, otherwise unless a remembered consent covers
// every requested scope.
func (s *Service) NeedsConsent(ctx context.Context, userID, clientID string, trusted bool, scopes []string) (bool, error) {
	if trusted {
		return false, nil
	}
	granted, err := s.store.Consent(ctx, userID, clientID)
	if errors.Is(err, db.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	return !oauth.Subset(scopes, granted), nil
}

// GrantConsent remembers that the user approved scopes for a client, in
// addition to what they approved before.
func (s *Service) GrantConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	old, err := s.store.Consent(ctx, userID, clientID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("load consent: %w", err)
	}
	all := slices.Clone(old)
	for _, sc := range scopes {
		if !slices.Contains(all, sc) {
			all = append(all, sc)
		}
	}
	slices.Sort(all)
	return s.store.SaveConsent(ctx, userID, clientID, all, s.now())
}

// IssueCode answers an authorization request with a fresh code bound to it
// and deletes the request in the same transaction, so a request yields at
// most one code even if the user double-submits.
func (s *Service) IssueCode(ctx context.Context, r *AuthRequest, a Authn) (string, error) {
	code := oauth.NewSecret(32) // 256 bits
	now := s.now()
	row := &codeRow{
		CodeHash: oauth.HashSecret(code), ClientID: r.ClientID, UserID: a.UserID, SessionID: a.SessionID,
		RedirectURI: r.RedirectURI, Scope: oauth.JoinScope(r.Scopes), Nonce: r.Nonce,
		CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod,
		Resources: nonNil(r.Resources), AuthTime: a.AuthTime.UTC(), CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL),
		AMR: strings.Join(a.AMR, " "), ACR: a.ACR, DPoPJKT: r.DPoPJKT,
		UpstreamID: a.UpstreamID, UpstreamSub: a.UpstreamSub,
	}
	err := s.store.tx(ctx, func(ctx context.Context) error {
		if r.ID == "" { // answered at once, never saved
			return s.store.createCode(ctx, row)
		}
		deleted, err := s.store.DeleteAuthRequest(ctx, r.ID)
		if err != nil {
			return err
		}
		if !deleted {
			return ErrRequestGone
		}
		return s.store.createCode(ctx, row)
	})
	if err != nil {
		return "", fmt.Errorf("issue code: %w", err)
	}
	return code, nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// audit records an event if an audit log is configured.
func (s *Service) audit(ctx context.Context, action, target, detail string) {
	if s.cfg.Audit != nil {
		s.cfg.Audit.Record(ctx, action, target, detail)
	}
}
