package upstreams

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"idp/db"
	"idp/users"
)

// Config is what the Service needs beyond its store.
type Config struct {
	// Issuer is idp's own issuer: the redirect URI registered at each
	// upstream is Issuer + CallbackPath(id).
	Issuer string
	// SealKey (32 bytes, derived from the master key) seals client secrets.
	SealKey []byte
	// HTTPClient reaches the upstreams; nil: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// CheckInterval is how long an upstream's yes (at a sign-in or a
	// Check) lasts before an idp refresh asks it again; 0 asks at every
	// refresh (idp serve --upstream-check-interval).
	CheckInterval time.Duration
	// Log receives what goes wrong in the background (a revocation at an
	// upstream); nil: discarded.
	Log *slog.Logger
}

// Service manages the upstreams and signs people in through them.
type Service struct {
	store *Store
	users *users.Service
	cfg   Config
	aead  cipher.AEAD

	mu    sync.Mutex
	cache map[string]*provider // by upstream id, see provider.go

	checks keyedLock // refresh.go

	background sync.WaitGroup // revoke.go
}

// NewService returns a Service over store; u finds, links and creates the
// idp users behind upstream accounts.
func NewService(store *Store, u *users.Service, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	cfg.HTTPClient = tracedClient(cfg.HTTPClient)
	block, err := aes.NewCipher(cfg.SealKey)
	if err != nil {
		panic("upstreams: seal key: " + err.Error()) // a programmer error: Derive gives 32 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("upstreams: gcm: " + err.Error())
	}
	return &Service{store: store, users: u, cfg: cfg, aead: aead, cache: map[string]*provider{}}
}

// Store returns the store, for reads.
func (s *Service) Store() *Store { return s.store }

// CallbackPath is the path of upstream id's redirect URI: each upstream has
// its own, so a response can never be taken for another upstream's.
func CallbackPath(id string) string { return "/login/upstream/" + id + "/callback" }

// RedirectURI is the redirect URI to register at upstream id.
func (s *Service) RedirectURI(id string) string { return s.cfg.Issuer + CallbackPath(id) }

// Create validates and stores a new upstream, its secret sealed.
func (s *Service) Create(ctx context.Context, spec Spec) (*Upstream, error) {
	now := s.cfg.Now().UTC()
	u := spec.upstream(now)
	u.normalize()
	if err := u.validate(); err != nil {
		return nil, err
	}
	if spec.Secret != "" {
		u.SecretSealed = s.seal(u.ID, spec.Secret)
	}
	if err := s.store.create(ctx, u); errors.Is(err, db.ErrConflict) {
		return nil, fmt.Errorf("%w: an upstream with id %q already exists", ErrInvalid, u.ID)
	} else if err != nil {
		return nil, err
	}
	return u, nil
}

// Update names the fields to change; nil leaves a field alone.
type Update struct {
	Name, Issuer, ClientID, Secret *string
	Scopes, AllowedDomains         *[]string
	LinkByEmail, JIT               *bool
	RolesClaim, RolesPrefix        *string
	RequiredGroup                  *string
	// AuthURL, TokenURL, UserinfoURL and GitHubURL change the endpoints
	// of the kinds that use them (the kind itself never changes: the
	// links' subjects mean something else under another kind).
	AuthURL, TokenURL, UserinfoURL, GitHubURL *string
	// Mapping sets the claim mapping fields it names, in the syntax of
	// --claim-mapping ("sub=id,email=mail"; "name=" restores the default);
	// the other fields stay. A string, so that Update stays comparable.
	Mapping *string
}

// Update changes upstream id.
func (s *Service) Update(ctx context.Context, id string, up Update) (*Upstream, error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.Name, up.Name)
	set(&u.Issuer, up.Issuer)
	set(&u.ClientID, up.ClientID)
	set(&u.Claims.RolesClaim, up.RolesClaim)
	set(&u.Claims.RolesPrefix, up.RolesPrefix)
	set(&u.Claims.RequiredGroup, up.RequiredGroup)
	if err := up.applyTo(u); err != nil {
		return nil, err
	}
	if up.Scopes != nil {
		u.Scopes = *up.Scopes
	}
	if up.AllowedDomains != nil {
		u.AllowedDomains = *up.AllowedDomains
	}
	if up.LinkByEmail != nil {
		u.LinkByEmail = *up.LinkByEmail
	}
	if up.JIT != nil {
		u.JIT = *up.JIT
	}
	u.normalize()
	if err := u.validate(); err != nil {
		return nil, err
	}
	if up.Secret != nil {
		u.SecretSealed = nil
		if *up.Secret != "" {
			u.SecretSealed = s.seal(u.ID, *up.Secret)
		}
	}
	u.UpdatedAt = s.cfg.Now().UTC()
	if err := s.store.update(ctx, u); err != nil {
		return nil, err
	}
	s.forget(id)
	return u, nil
}

// Delete removes upstream id and its links: people who signed in only
// through it keep their idp account but can no longer use it that way.
// The grants the links kept (refresh.go) are given back to the upstream
// in the background (giveBackAll): the deletion neither waits on the
// upstream nor fails because of it.
func (s *Service) Delete(ctx context.Context, id string) error {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return err
	}
	kept, err := s.store.delete(ctx, id)
	if err != nil {
		return err
	}
	p := s.cached(u)
	s.forget(id)
	s.giveBackAll(u, p, kept)
	return nil
}

// List returns every upstream.
func (s *Service) List(ctx context.Context) ([]*Upstream, error) { return s.store.List(ctx) }

// seal encrypts a client secret bound to its upstream's id, so a sealed
// secret copied onto another row does not open.
func (s *Service) seal(id, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(id))
}

// secret opens the client secret of u ("" for a public client).
func (s *Service) secret(u *Upstream) (string, error) {
	if len(u.SecretSealed) == 0 {
		return "", nil
	}
	n := s.aead.NonceSize()
	if len(u.SecretSealed) < n+s.aead.Overhead() {
		return "", errors.New("the sealed client secret is damaged; set it again")
	}
	pt, err := s.aead.Open(nil, u.SecretSealed[:n], u.SecretSealed[n:], []byte(u.ID))
	if err != nil {
		return "", fmt.Errorf("upstream %q: the client secret does not open under this master key", u.ID)
	}
	return string(pt), nil
}
