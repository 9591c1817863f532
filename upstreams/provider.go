package upstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"idp/verifier"
)

// discoveryTTL is how long an upstream's discovery document is trusted
// before it is fetched again; key rotation needs no refetch (the verifier
// refetches the JWKS when it meets an unknown kid).
const discoveryTTL = time.Hour

// maxBody bounds what idp reads from an upstream: discovery and token
// responses are a few KB.
const maxBody = 1 << 20

// provider is what discovery says about one upstream, with a verifier of
// its ID tokens for idp's client id.
type provider struct {
	issuer, clientID string // what it was built for: a changed upstream rebuilds it
	authURL          string
	tokenURL         string
	// userinfoURL (oauth2) or apiURL (github) is where the claims are
	// read with the access token; empty for oidc, whose claims are its ID
	// token's.
	userinfoURL, apiURL string
	// secretInForm: the client authenticates with client_secret_post
	// (RFC 6749 §2.3.1) rather than Basic, as GitHub documents it.
	secretInForm bool
	// issParam: the upstream says it sends iss in authorization responses
	// (RFC 9207 §3), so a response without it is refused.
	issParam bool
	// revocationURL is the upstream's RFC 7009 endpoint ("": none), where
	// idp gives back a refresh token it no longer holds.
	revocationURL string
	verifier      *verifier.Verifier
	fetched       time.Time
}

// metadata is the part of OIDC Discovery 1.0 §3 idp uses.
type metadata struct {
	Issuer      string `json:"issuer"`
	AuthURL     string `json:"authorization_endpoint"`
	TokenURL    string `json:"token_endpoint"`
	JWKSURL     string `json:"jwks_uri"`
	ISSResponse bool   `json:"authorization_response_iss_parameter_supported"`
	Revocation  string `json:"revocation_endpoint"`
}

// provider returns how to reach u: for oauth2 and github its configured
// endpoints; for oidc the cached discovery of u, fetching it when missing,
// stale or built for other settings. When a refetch fails the last good
// one keeps serving, so a brief upstream outage does not stop sign-ins
// that would otherwise work.
func (s *Service) provider(ctx context.Context, u *Upstream) (*provider, error) {
	if u.Kind != KindOIDC {
		return configured(u), nil // nothing to discover: the endpoints are in u
	}
	now := s.cfg.Now()
	s.mu.Lock()
	p := s.cache[u.ID]
	s.mu.Unlock()
	current := p != nil && p.issuer == u.Issuer && p.clientID == u.ClientID
	if current && now.Sub(p.fetched) < discoveryTTL {
		return p, nil
	}
	fresh, err := s.discover(ctx, u)
	if err != nil {
		if current {
			return p, nil
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.mu.Lock()
	s.cache[u.ID] = fresh
	s.mu.Unlock()
	return fresh, nil
}

// cached returns the discovery of u idp has cached for u's current
// settings, however old, without fetching; nil when there is none.
func (s *Service) cached(u *Upstream) *provider {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.cache[u.ID]; p != nil && p.issuer == u.Issuer && p.clientID == u.ClientID {
		return p
	}
	return nil
}

// forget drops the cached discovery of upstream id.
func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}

// discover fetches u's metadata and JWKS, bounded by the HTTP client's
// timeout. The document's issuer must be exactly u's (Discovery §4.3).
func (s *Service) discover(ctx context.Context, u *Upstream) (*provider, error) {
	url := strings.TrimSuffix(u.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s answered %d", url, resp.StatusCode)
	}
	var md metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&md); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	switch {
	case md.Issuer != u.Issuer:
		return nil, fmt.Errorf("discovery: issuer %q is not the configured %q", md.Issuer, u.Issuer)
	case md.AuthURL == "" || md.TokenURL == "" || md.JWKSURL == "":
		return nil, fmt.Errorf("discovery: authorization_endpoint, token_endpoint or jwks_uri missing")
	}
	v, err := verifier.New(ctx, verifier.Config{Issuer: u.Issuer, Audience: u.ClientID, JWKSURL: md.JWKSURL,
		HTTPClient: s.cfg.HTTPClient, Now: s.cfg.Now})
	if err != nil {
		return nil, err
	}
	return &provider{issuer: u.Issuer, clientID: u.ClientID, authURL: md.AuthURL, tokenURL: md.TokenURL,
		issParam: md.ISSResponse, revocationURL: md.Revocation, verifier: v, fetched: s.cfg.Now()}, nil
}
