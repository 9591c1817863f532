package protocol

import (
	"sync/atomic"
	"time"

	"idp/keys"
	"idp/server/plumbing"
	"idp/throttle"
)

// Config is what the protocol endpoints need beyond the shared site.
type Config struct {
	// JWKSMaxAge is the Cache-Control max-age of the JWKS.
	JWKSMaxAge time.Duration
	// TokenRateLimit is the token endpoint's requests per second per
	// client on this replica; 0 is no limit.
	TokenRateLimit float64
	// Registration is who may use the registration endpoint:
	// RegistrationToken, RegistrationOpen or RegistrationClosed.
	Registration string
	// Throttle limits open registrations per address.
	Throttle *throttle.Throttle
	// RequirePAR refuses every authorization request that was not pushed
	// first (RFC 9126 §5 require_pushed_authorization_requests).
	RequirePAR bool
	// DPoP is how DPoP proofs are checked (see dpop.go).
	DPoP DPoPConfig
}

// Handlers serves the OAuth 2.0 and OpenID Connect endpoints, and resumes
// a pending authorization request when a page hands its id back.
type Handlers struct {
	site      *plumbing.Site
	cfg       Config
	keys      *keys.Manager
	metrics   *plumbing.Metrics
	limits    *plumbing.ClientLimits
	discovery []byte // prebuilt: it only changes with the configuration
	jwksHdr   atomic.Pointer[jwksHeader]
}

// New returns the protocol endpoints of site; km signs and publishes the
// keys, and metrics counts the tokens issued.
func New(site *plumbing.Site, cfg Config, km *keys.Manager, metrics *plumbing.Metrics) (*Handlers, error) {
	h := &Handlers{site: site, cfg: cfg, keys: km, metrics: metrics, limits: plumbing.NewClientLimits(cfg.TokenRateLimit)}
	var err error
	if h.discovery, err = h.buildDiscovery(); err != nil {
		return nil, err
	}
	return h, nil
}
