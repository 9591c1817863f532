package resources

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"idp/db"
)

// Errors the Service returns; each is matched with errors.Is.
var (
	// ErrUnknown: no resource is registered under the URI (it also
	// matches db.ErrNotFound).
	ErrUnknown = errors.New("unknown resource")
	// ErrExists: a resource is registered under the URI already (it also
	// matches db.ErrConflict).
	ErrExists = errors.New("resource already exists")
	// ErrInvalidSpec: the spec breaks a rule; the text lists every problem.
	ErrInvalidSpec = errors.New("invalid resource")
	// ErrInvalidCredentials: an unknown URI, a resource without a secret
	// and a wrong secret alike.
	ErrInvalidCredentials = errors.New("invalid resource credentials")
	// ErrMixedAlgs: the resources of one token ask for different signing
	// algorithms, which one token cannot satisfy.
	ErrMixedAlgs = errors.New("the resources ask for different signing algorithms")
)

type tagged struct {
	error
	tags []error
}

func (e tagged) Is(target error) bool { return slices.Contains(e.tags, target) }
func (e tagged) Unwrap() error        { return e.error }

// minSecretLen is the shortest secret accepted from an operator.
const minSecretLen = 32

// Service registers resources, authenticates them and answers token
// policy.
type Service struct {
	store  *Store
	pepper []byte
	maxTTL time.Duration
	now    func() time.Time
}

// NewService returns a Service over store. pepper (32 bytes, derived from
// the master key) keys the secret HMAC; maxTTL is the provider's access
// token lifetime, which no resource may exceed; now defaults to time.Now.
func NewService(store *Store, pepper []byte, maxTTL time.Duration, now func() time.Time) *Service {
	if len(pepper) != 32 {
		panic(fmt.Sprintf("resources: pepper must be 32 bytes, got %d", len(pepper)))
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, pepper: append([]byte(nil), pepper...), maxTTL: maxTTL, now: now}
}

// Store returns the underlying store, for listing and deleting.
func (s *Service) Store() *Store { return s.store }

func (s *Service) hash(secret string) []byte {
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Create validates spec and registers the resource. secret is the
// generated one (returned only here), empty when spec gave one or asked
// for none. Every problem is returned at once and nothing is written.
func (s *Service) Create(ctx context.Context, spec Spec) (*Resource, string, error) {
	if errs := spec.validate(s.maxTTL); len(errs) > 0 {
		return nil, "", tagged{errors.Join(errs...), []error{ErrInvalidSpec}}
	}
	r := &Resource{URI: spec.URI, Name: spec.Name, Scopes: dedupe(spec.Scopes), SigningAlg: spec.SigningAlg,
		AccessTokenTTL: spec.AccessTokenTTL}
	var secret string
	if !spec.NoSecret {
		secret = spec.Secret
		if secret == "" {
			secret = newSecret()
		}
		r.SecretHash = s.hash(secret)
		if spec.Secret != "" {
			secret = ""
		}
	}
	r.CreatedAt = s.stamp()
	r.UpdatedAt = r.CreatedAt
	if err := s.store.create(ctx, r); err != nil {
		if errors.Is(err, db.ErrConflict) {
			return nil, "", tagged{fmt.Errorf("resource %q: %w", r.URI, ErrExists), []error{db.ErrConflict}}
		}
		return nil, "", err
	}
	return r, secret, nil
}

// Update replaces the name, scopes and token policy of spec.URI; the
// credentials stay (RegenerateSecret changes them). An unknown URI is
// ErrUnknown.
func (s *Service) Update(ctx context.Context, spec Spec) (*Resource, error) {
	spec.Secret, spec.NoSecret = "", false
	if errs := spec.validate(s.maxTTL); len(errs) > 0 {
		return nil, tagged{errors.Join(errs...), []error{ErrInvalidSpec}}
	}
	var out *Resource
	err := db.Tx(ctx, s.store.gdb, func(ctx context.Context) error {
		old, err := s.store.ByURI(ctx, spec.URI)
		if err != nil {
			return err
		}
		old.Name, old.Scopes, old.SigningAlg, old.AccessTokenTTL = spec.Name, dedupe(spec.Scopes), spec.SigningAlg, spec.AccessTokenTTL
		old.UpdatedAt = s.stamp()
		out = old
		return s.store.update(ctx, old)
	})
	return out, err
}

// RegenerateSecret gives the resource a new generated secret (also one
// that had none) and returns it once; the old one stops working at once.
func (s *Service) RegenerateSecret(ctx context.Context, uri string) (string, error) {
	secret := newSecret()
	if err := s.store.setSecret(ctx, uri, s.hash(secret), s.stamp()); err != nil {
		return "", err
	}
	return secret, nil
}

// Authenticate checks a resource's credentials in constant time, whether
// or not the URI is registered. Database failures are returned as they
// are, not as ErrInvalidCredentials.
func (s *Service) Authenticate(ctx context.Context, uri, secret string) (*Resource, error) {
	mac := s.hash(secret)
	r, err := s.store.ByURI(ctx, uri)
	if errors.Is(err, ErrUnknown) {
		_ = hmac.Equal(mac, make([]byte, sha256.Size))
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if r.SecretHash == nil || !hmac.Equal(mac, r.SecretHash) {
		return nil, ErrInvalidCredentials
	}
	return r, nil
}

// Policy checks that every uri is a registered resource (ErrUnknown
// names the first that is not) and returns what they ask of a token for
// all of them: their common signing algorithm (ErrMixedAlgs when two
// differ), the shortest lifetime and the scopes they allow.
func (s *Service) Policy(ctx context.Context, uris []string) (Policy, error) {
	p := Policy{Restricted: len(uris) > 0}
	for _, u := range uris {
		r, err := s.store.policyOf(ctx, u)
		if errors.Is(err, db.ErrNotFound) {
			return Policy{}, tagged{fmt.Errorf("resource %s: %w", u, ErrUnknown), []error{db.ErrNotFound}}
		}
		if err != nil {
			return Policy{}, err
		}
		switch {
		case r.SigningAlg == "":
		case p.SigningAlg == "":
			p.SigningAlg = r.SigningAlg
		case p.SigningAlg != r.SigningAlg:
			return Policy{}, ErrMixedAlgs
		}
		if r.TTL > 0 && (p.TTL == 0 || r.TTL < p.TTL) {
			p.TTL = r.TTL
		}
		// One resource that declares no scopes opens the token to any.
		p.Restricted = p.Restricted && len(r.Scopes) > 0
		for _, sc := range r.Scopes {
			if !slices.Contains(p.Scopes, sc) {
				p.Scopes = append(p.Scopes, sc)
			}
		}
	}
	return p, nil
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func dedupe(l []string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
