package verifier

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"idp/dpop"
)

// Defaults for the zero values of Config.
const (
	// DefaultLeeway absorbs clock differences between idp and the service.
	DefaultLeeway = 30 * time.Second
	// DefaultMinRefetchInterval bounds refetches caused by unknown kids: a
	// flood of forged tokens must not become a flood of JWKS requests.
	DefaultMinRefetchInterval = 10 * time.Second
	// defaultHTTPTimeout bounds one discovery or JWKS request.
	defaultHTTPTimeout = 10 * time.Second
)

// Config tells a Verifier whose tokens to accept and how to reach the keys.
type Config struct {
	// Issuer is the exact iss of accepted tokens, e.g.
	// "https://idp.example.com". Discovery is fetched from
	// Issuer+"/.well-known/openid-configuration" unless JWKSURL is set.
	Issuer string
	// JWKSURL, when set, skips discovery.
	JWKSURL string
	// Audience must be one of a token's aud values: the client id for ID
	// tokens; the resource or client id for access tokens. Required unless
	// Resource is set, which it then defaults to. It is also the realm of
	// the middleware's WWW-Authenticate challenges.
	Audience string
	// Resource, when set, is the service's resource identifier (RFC 9728
	// §1.2, RFC 8707): an https URL such as "https://api.example.com/orders"
	// (plain http on a loopback host only). The middleware's challenges
	// then carry resource_metadata with its MetadataURL (RFC 9728 §5.1), so
	// a client without a token finds idp; serve the document there with
	// NewMetadataHandler(v.ResourceMetadata()).
	Resource string
	// Leeway is allowed on exp, nbf and iat; 0 means DefaultLeeway.
	Leeway time.Duration
	// HTTPClient fetches discovery and the JWKS; nil means a client with a
	// 10 s timeout.
	HTTPClient *http.Client
	// MinRefetchInterval is the least time between two JWKS fetches, so
	// tokens with unknown kids cause at most one fetch per interval. It is
	// also the shortest time a fetched JWKS is cached, whatever its max-age.
	// 0 means DefaultMinRefetchInterval.
	MinRefetchInterval time.Duration
	// Now is the clock for token times and cache ages; nil means time.Now.
	Now func() time.Time

	// RequireDPoP makes Middleware refuse bearer tokens: only DPoP-bound
	// tokens with their proof get through (RFC 9449 §7). Without it both
	// are accepted, but a DPoP-bound token always needs its proof.
	RequireDPoP bool
	// DPoPOrigin is the scheme://host[:port] clients address this service
	// at, the start of a proof's htu, e.g. "https://api.example.com".
	// Set it behind a reverse proxy; empty takes the request's own scheme
	// (TLS or not) and Host.
	DPoPOrigin string
	// DPoPWindow bounds how far a proof's iat may be from Now, either
	// way; 0 means dpop.DefaultWindow (60 s).
	DPoPWindow time.Duration
	// DPoPReplay remembers the proofs seen; nil means an in-memory cache
	// of this Verifier (dpop.Memory). Several instances of a service
	// that must refuse a proof replayed to another instance share one.
	DPoPReplay dpop.ReplayCache
}

// withDefaults checks cfg and fills its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if cfg.Audience == "" {
		cfg.Audience = cfg.Resource // tokens for the resource carry it in aud (RFC 8707 §2)
	}
	if cfg.Resource != "" {
		if _, err := MetadataURL(cfg.Resource); err != nil {
			errs = append(errs, fmt.Errorf("config: %w", err))
		}
	}
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("config: Issuer is required"))
	}
	if cfg.Audience == "" {
		errs = append(errs, errors.New("config: Audience is required: without it a token issued to any client would be accepted"))
	}
	if cfg.Leeway < 0 || cfg.MinRefetchInterval < 0 || cfg.DPoPWindow < 0 {
		errs = append(errs, errors.New("config: Leeway, MinRefetchInterval and DPoPWindow must not be negative"))
	}
	if cfg.DPoPOrigin != "" && !dpop.SameURI(cfg.DPoPOrigin, cfg.DPoPOrigin) {
		errs = append(errs, errors.New("config: DPoPOrigin must be an http or https origin such as https://api.example.com"))
	}
	if len(errs) > 0 {
		return cfg, errors.Join(errs...)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.MinRefetchInterval == 0 {
		cfg.MinRefetchInterval = DefaultMinRefetchInterval
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// discoveryURL is where OIDC Discovery 1.0 §4 puts the metadata: a trailing
// slash of the issuer is removed before the well-known path is appended.
func (cfg Config) discoveryURL() string {
	return strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"
}
