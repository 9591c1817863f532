package clients

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"time"

	"idp/db"
)

// ErrInvalidClient is returned by Authenticate for an unknown client, a
// public client or a wrong secret alike, so a caller cannot tell which
// (RFC 6749 §5.2 invalid_client).
var ErrInvalidClient = errors.New("invalid client credentials")

// ErrClientExists is returned by Service.Create when the id is taken. The
// error also matches db.ErrConflict.
var ErrClientExists = errors.New("client already exists")

// ErrInvalidSpec is matched (errors.Is) by the error Create returns for a
// Spec that breaks a rule; the error's text lists every problem.
var ErrInvalidSpec = errors.New("invalid client metadata")

// invalidSpec marks validation problems as ErrInvalidSpec without changing
// their text.
type invalidSpec struct{ error }

func (e invalidSpec) Is(target error) bool { return target == ErrInvalidSpec }
func (e invalidSpec) Unwrap() error        { return e.error }

// minSecretLen is the shortest secret accepted from an operator: 32 bytes,
// the size of a generated one, so a guessable secret cannot be registered.
const minSecretLen = 32

// pepperLen is the HMAC-SHA256 key size that NewService requires.
const pepperLen = 32

// Spec describes a client to register. Zero values take the defaults
// documented on each field.
type Spec struct {
	// ID is the client_id; see ValidateID.
	ID string
	// Name is the display name.
	Name string
	// Public registers a client without a secret (RFC 6749 §2.1).
	Public bool
	// Secret is the confidential client's secret, at least 32 bytes; empty
	// generates one. It must be empty for a public client.
	Secret string
	// RedirectURIs are required when the authorization_code grant is
	// allowed; duplicates are removed.
	RedirectURIs []string
	// PostLogoutRedirectURIs are optional; duplicates are removed.
	PostLogoutRedirectURIs []string
	// GrantTypes default to DefaultGrantTypes.
	GrantTypes []string
	// Scopes default to DefaultScopes.
	Scopes []string
	// SigningAlg is RS256 (the default, required by OIDC Core §15.1) or ES256.
	SigningAlg string
	// Trusted skips the consent screen.
	Trusted bool
	// RequireMFA makes every sign-in for the client need a second factor.
	RequireMFA bool
	// RequireVerifiedEmail makes users verify their address first.
	RequireVerifiedEmail bool
	// Metadata is checked by ValidateMetadata; ApplicationType defaults to
	// web, TokenEndpointAuthMethod to either secret method ("none" for a
	// public client).
	Metadata
}

// SpecOf returns the spec that describes c, without its secret: the
// starting point of an update.
func SpecOf(c *Client) Spec {
	return Spec{ID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: slices.Clone(c.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs), GrantTypes: slices.Clone(c.GrantTypes),
		Scopes: slices.Clone(c.Scopes), SigningAlg: c.SigningAlg, Trusted: c.Trusted, RequireMFA: c.RequireMFA,
		RequireVerifiedEmail: c.RequireVerifiedEmail, Metadata: c.Metadata.clone()}
}

func (m Metadata) clone() Metadata {
	m.Contacts = slices.Clone(m.Contacts)
	return m
}

// Service registers and authenticates clients.
type Service struct {
	store  *Store
	pepper []byte
	now    func() time.Time
	macs   sync.Pool   // keyed HMAC-SHA256 states: keying one costs more than using it
	keys   *keySets    // private_key_jwt clients' keys, fetched ones cached
	aead   cipher.AEAD // seals client_secret_jwt clients' secrets
}

// NewService returns a Service over store. pepper is the 32-byte HMAC key
// for client secrets, derived by the caller from the master key, so a
// database dump alone does not allow an offline guess of a secret. now
// defaults to time.Now. A pepper of the wrong size is a programmer error
// and panics.
func NewService(store *Store, pepper []byte, now func() time.Time) *Service {
	if len(pepper) != pepperLen {
		panic(fmt.Sprintf("clients: pepper must be %d bytes, got %d", pepperLen, len(pepper)))
	}
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, pepper: append([]byte(nil), pepper...), now: now}
	s.macs.New = func() any { return hmac.New(sha256.New, s.pepper) }
	s.keys = newKeySets(s.now)
	s.aead = newSecretAEAD(s.pepper)
	return s
}

// Store returns the underlying store, for listing and deleting clients.
func (s *Service) Store() *Store { return s.store }

// HashSecret returns HMAC-SHA256(pepper, secret), the form in which a
// client secret is stored and compared. Secrets are long and random, so a
// keyed fast hash suffices; a password hash would only slow the token
// endpoint.
func (s *Service) HashSecret(secret string) []byte {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(secret))
	sum := m.Sum(nil)
	s.macs.Put(m)
	return sum
}

// Create validates spec and registers the client. Every problem found is
// returned at once, joined with errors.Join, and nothing is written. For a
// confidential client registered without a Secret, secret is the generated
// one: it is returned only here and cannot be recovered later. secret is
// empty for public clients and when spec.Secret was given.
func (s *Service) Create(ctx context.Context, spec Spec) (c *Client, secret string, err error) {
	return s.create(ctx, spec, nil)
}

// create is Create with a last change to the client before it is stored.
func (s *Service) create(ctx context.Context, spec Spec, finish func(*Client)) (c *Client, secret string, err error) {
	c, err = build(spec)
	if err != nil {
		return nil, "", invalidSpec{err}
	}
	if !c.Public {
		secret = spec.Secret
		if secret == "" {
			secret, err = newSecret()
			if err != nil {
				return nil, "", err
			}
		}
		c.SecretHash = s.HashSecret(secret)
		if usesSealedSecret(c.TokenEndpointAuthMethod) {
			c.SecretSealed = s.sealSecret(c.ID, secret)
		}
		if spec.Secret != "" || needsKeys(c.TokenEndpointAuthMethod) {
			secret = "" // given by the caller, or never usable: the client signs with its keys
		}
	}
	// Microseconds: the precision PostgreSQL keeps, so the value read back
	// equals the one returned on both dialects.
	c.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	c.UpdatedAt = c.CreatedAt
	if finish != nil {
		finish(c)
	}
	if err := s.store.Create(ctx, c); err != nil {
		if errors.Is(err, db.ErrConflict) {
			return nil, "", fmt.Errorf("create client %q: %w (%w)", c.ID, ErrClientExists, db.ErrConflict)
		}
		return nil, "", fmt.Errorf("create client %q: %w", c.ID, err)
	}
	return c, secret, nil
}

// Update replaces the registration of the client spec.ID with spec,
// checked as Create checks it; the secret stays (spec.Secret must be
// empty) and a client cannot change between public and confidential.
// Every problem is returned at once and nothing is written; an unknown id
// wraps db.ErrNotFound.
func (s *Service) Update(ctx context.Context, spec Spec) (*Client, error) {
	var out *Client
	err := db.Tx(ctx, s.store.gdb, func(ctx context.Context) error {
		old, err := s.store.ByID(ctx, spec.ID)
		if err != nil {
			return err
		}
		var errs []error
		if spec.Secret != "" {
			errs = append(errs, errors.New("the secret cannot be set by an update; regenerate it"))
		}
		if spec.Public != old.Public {
			errs = append(errs, errors.New("a client cannot change between public and confidential; register a new one"))
		}
		c, err := build(spec)
		if err != nil {
			errs = append(errs, err)
		} else if usesSealedSecret(c.TokenEndpointAuthMethod) && len(old.SecretSealed) == 0 {
			// The secret exists only as its HMAC: idp cannot sign with it.
			errs = append(errs, errors.New("a client cannot switch to client_secret_jwt: its secret is kept only as a hash, which cannot check an assertion; register it anew with client_secret_jwt"))
		}
		if err := errors.Join(errs...); err != nil {
			return invalidSpec{err}
		}
		c.SecretHash, c.CreatedAt = old.SecretHash, old.CreatedAt
		if usesSealedSecret(c.TokenEndpointAuthMethod) {
			c.SecretSealed = old.SecretSealed // leaving client_secret_jwt forgets it
		}
		c.Registration, c.RegistrationTokenHash, c.LastUsedAt = old.Registration, old.RegistrationTokenHash, old.LastUsedAt
		c.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		if err := s.store.Update(ctx, c); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update client %q: %w", spec.ID, err)
	}
	return out, nil
}

// RegenerateSecret gives a confidential client a new generated secret and
// returns it, once; the old one stops working at once. A public client is
// refused (ErrInvalidSpec), an unknown id wraps db.ErrNotFound.
func (s *Service) RegenerateSecret(ctx context.Context, id string) (string, error) {
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	err = db.Tx(ctx, s.store.gdb, func(ctx context.Context) error {
		c, err := s.store.ByID(ctx, id)
		if err != nil {
			return err
		}
		if c.Public {
			return invalidSpec{errors.New("a public client has no secret")}
		}
		if needsKeys(c.TokenEndpointAuthMethod) {
			return invalidSpec{errors.New("a private_key_jwt client authenticates with its keys, not a secret")}
		}
		var sealed []byte
		if usesSealedSecret(c.TokenEndpointAuthMethod) {
			sealed = s.sealSecret(id, secret)
		}
		return s.store.setSecret(ctx, id, s.HashSecret(secret), sealed, s.now().UTC().Truncate(time.Microsecond))
	})
	if err != nil {
		return "", fmt.Errorf("regenerate secret of client %q: %w", id, err)
	}
	return secret, nil
}

// newSecret returns 32 random bytes, base64url without padding (43 chars).
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate client secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Authenticate checks a confidential client's credentials (RFC 6749
// §2.3.1). An unknown id, a public client and a wrong secret all give
// ErrInvalidClient. The HMAC is computed and compared in constant time
// (crypto/hmac.Equal) whether or not the client exists, so response timing
// reveals neither which ids exist nor how much of a secret was right.
// Database failures are returned as they are, not as ErrInvalidClient.
func (s *Service) Authenticate(ctx context.Context, id, secret string) (*Client, error) {
	mac := s.HashSecret(secret)
	c, err := s.store.ByID(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		_ = hmac.Equal(mac, make([]byte, sha256.Size))
		return nil, ErrInvalidClient
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate client: %w", err)
	}
	ok := hmac.Equal(mac, c.SecretHash)
	if !ok || c.Public {
		return nil, ErrInvalidClient
	}
	return c, nil
}
