package tokens

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"idp/db"
	"idp/oauth"
)

// RequestURIPrefix starts every request_uri the PAR endpoint hands out
// (RFC 9126 §2.2 suggests this URN); a random secret follows it.
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// DefaultPushedTTL is how long a pushed request may wait for its
// authorization request: RFC 9126 §2.2 suggests a short life, and the
// client redirects the browser at once.
const DefaultPushedTTL = 60 * time.Second

// Why a request_uri is refused at the authorization endpoint; both are
// RFC 9101's invalid_request_uri to the client.
var (
	// ErrPushedGone: the request_uri is unknown, expired or already used.
	ErrPushedGone = errors.New("pushed authorization request unknown, expired or already used")
	// ErrPushedClient: the request_uri was pushed by another client.
	ErrPushedClient = errors.New("pushed authorization request belongs to another client")
)

// Pushed is a pushed authorization request as the authorization endpoint
// reads it back.
type Pushed struct {
	// ClientID is the client that pushed it, authenticated at the PAR
	// endpoint.
	ClientID string
	// Params are the authorization request parameters as pushed.
	Params url.Values
	// ExpiresAt is when its request_uri stops working.
	ExpiresAt time.Time
	hash      string
}

// Push stores the authorization request parameters params, already
// validated, that client clientID pushed, and returns the request_uri
// that stands for them and its lifetime (RFC 9126 §2.2). Only the hash of
// the request_uri's random part is stored.
func (s *Service) Push(ctx context.Context, clientID string, params url.Values) (string, time.Duration, error) {
	secret := oauth.NewSecret(32) // 256 bits: a request_uri cannot be guessed
	now := s.now()
	row := &pushedRow{IDHash: oauth.HashSecret(secret), ClientID: clientID, Params: maps.Clone(params),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.PushedTTL)}
	if err := s.store.createPushed(ctx, row); err != nil {
		return "", 0, fmt.Errorf("push authorization request: %w", err)
	}
	return RequestURIPrefix + secret, s.cfg.PushedTTL, nil
}

// Pushed loads the live, unused request behind requestURI for client
// clientID: ErrPushedGone if there is none, ErrPushedClient if another
// client pushed it. It marks nothing; Claim does, once the request is
// accepted.
func (s *Service) Pushed(ctx context.Context, requestURI, clientID string) (*Pushed, error) {
	secret, ok := strings.CutPrefix(requestURI, RequestURIPrefix)
	if !ok || secret == "" || len(secret) > 64 {
		return nil, ErrPushedGone
	}
	hash := oauth.HashSecret(secret)
	row, err := s.store.pushed(ctx, hash)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return nil, ErrPushedGone
	case err != nil:
		return nil, fmt.Errorf("load pushed authorization request: %w", err)
	case row.UsedAt != nil || !s.now().Before(row.ExpiresAt):
		return nil, ErrPushedGone
	case row.ClientID != clientID:
		return nil, ErrPushedClient
	}
	return &Pushed{ClientID: row.ClientID, Params: url.Values(row.Params), ExpiresAt: row.ExpiresAt, hash: hash}, nil
}

// Claim marks p used. Of concurrent claims of one request exactly one
// succeeds; the others, and any later one, get ErrPushedGone.
func (s *Service) Claim(ctx context.Context, p *Pushed) error {
	won, err := s.store.ClaimPushed(ctx, p.hash, p.ClientID, s.now())
	if err != nil {
		return fmt.Errorf("claim pushed authorization request: %w", err)
	}
	if !won {
		return ErrPushedGone
	}
	return nil
}
