package verifier

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"idp/dpop"
)

// DPoP-bound access tokens (RFC 9449 §7): a token whose cnf.jkt names a
// key is only accepted with "Authorization: DPoP <token>" and a DPoP
// header proof signed by that key, for this request's method and URI,
// with ath the token's hash, seen for the first time. A bound token sent
// as a bearer token is refused — that is the point of binding it.
//
// Replay: the proofs seen are remembered per process (dpop.Memory) unless
// Config.DPoPReplay supplies a cache the service's instances share. A
// relying service has no idp database; one instance, or sticky routing,
// makes the in-memory cache enough, and a proof is only useful to whoever
// holds it for Config.DPoPWindow anyway.

// errAuth is why a request was refused, as the challenge will say it.
type errAuth struct {
	status int
	// dpop says the challenge is DPoP's (the client used DPoP, or should
	// have), not Bearer's.
	dpop       bool
	code, desc string
}

func (e *errAuth) Error() string { return e.code + ": " + e.desc }

// authenticate checks the request's credentials, either scheme, and
// returns the claims or why not. A nil *errAuth with a nil error is
// never returned; a non-errAuth error means verification could not run
// (a cancelled JWKS fetch).
func (v *Verifier) authenticate(r *http.Request) (*AccessClaims, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) > 1 {
		return nil, &errAuth{status: http.StatusBadRequest, dpop: v.cfg.RequireDPoP, code: "invalid_request", desc: "more than one Authorization header"}
	}
	scheme, tok := "", ""
	if len(vals) == 1 {
		scheme, tok, _ = strings.Cut(vals[0], " ")
		tok = strings.TrimLeft(tok, " ")
	}
	switch {
	case strings.EqualFold(scheme, "DPoP"):
		return v.authenticateDPoP(r, tok)
	case !strings.EqualFold(scheme, "Bearer"):
		return nil, errNoToken
	case v.cfg.RequireDPoP:
		return nil, &errAuth{status: http.StatusUnauthorized, dpop: true, code: "invalid_token", desc: "a DPoP-bound access token is required"}
	}
	if !isB64Token(tok) {
		return nil, &errAuth{status: http.StatusBadRequest, code: "invalid_request", desc: "malformed bearer token"}
	}
	claims, err := v.VerifyAccessToken(r.Context(), tok)
	if err != nil {
		return nil, tokenRefused(err, false)
	}
	if claims.JKT != "" {
		return nil, &errAuth{status: http.StatusUnauthorized, dpop: true, code: "invalid_token",
			desc: "the token is DPoP-bound: send it with the DPoP scheme and a proof"}
	}
	return claims, nil
}

// authenticateDPoP checks "Authorization: DPoP <token>" and its proof
// (RFC 9449 §7.1).
func (v *Verifier) authenticateDPoP(r *http.Request, tok string) (*AccessClaims, error) {
	if !isB64Token(tok) {
		return nil, &errAuth{status: http.StatusBadRequest, dpop: true, code: "invalid_request", desc: "malformed DPoP token"}
	}
	claims, err := v.VerifyAccessToken(r.Context(), tok)
	if err != nil {
		return nil, tokenRefused(err, true)
	}
	if claims.JKT == "" {
		return nil, &errAuth{status: http.StatusUnauthorized, dpop: true, code: "invalid_token", desc: "the token is not DPoP-bound"}
	}
	proofs := r.Header.Values(dpop.HeaderName)
	switch {
	case len(proofs) == 0:
		return nil, &errAuth{status: http.StatusUnauthorized, dpop: true, code: "invalid_token", desc: "a DPoP proof is required"}
	case len(proofs) > 1:
		return nil, badProof("send exactly one DPoP header")
	}
	p, err := dpop.Verify(proofs[0], dpop.Request{Method: r.Method, URL: v.requestURI(r), AccessToken: tok,
		Now: v.cfg.Now(), Window: v.cfg.DPoPWindow})
	if err != nil {
		return nil, badProof(dpop.Describe(err))
	}
	if p.JKT != claims.JKT {
		return nil, &errAuth{status: http.StatusUnauthorized, dpop: true, code: "invalid_token",
			desc: "the DPoP proof is not signed by the key the token is bound to"}
	}
	fresh, err := v.replay.Claim(r.Context(), p.ReplayKey(), p.Until)
	if err != nil {
		return nil, fmt.Errorf("DPoP replay cache: %w", err)
	}
	if !fresh {
		return nil, badProof(dpop.ErrReplay.Error())
	}
	return claims, nil
}

// tokenRefused maps a verification failure: a token that does not verify
// is invalid_token; anything else (a cancelled fetch) passes through.
func tokenRefused(err error, dpopScheme bool) error {
	if errors.Is(err, ErrInvalidToken) {
		return &errAuth{status: http.StatusUnauthorized, dpop: dpopScheme, code: "invalid_token", desc: describe(err)}
	}
	return err
}

func badProof(desc string) *errAuth {
	return &errAuth{status: http.StatusUnauthorized, dpop: true, code: "invalid_dpop_proof", desc: desc}
}

// requestURI is the htu a proof for r must name: Config.DPoPOrigin (or
// the request's own scheme and Host) and the path as the client sent it
// (RequestURI, which http.StripPrefix leaves alone).
func (v *Verifier) requestURI(r *http.Request) string {
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && r.RequestURI != "" {
		path = u.EscapedPath()
	}
	if v.cfg.DPoPOrigin != "" {
		return strings.TrimSuffix(v.cfg.DPoPOrigin, "/") + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// dpopChallenge is the WWW-Authenticate of a DPoP error, or a bare one
// when code is empty (RFC 9449 §7.1), naming the resource metadata as the
// Bearer challenge does (RFC 9728 §5.1).
func (v *Verifier) dpopChallenge(code, desc string) string {
	params := []string{}
	if v.metadataURL != "" {
		params = append(params, "resource_metadata="+quote(v.metadataURL))
	}
	if code != "" {
		params = append(params, "error="+quote(code), "error_description="+quote(desc))
	}
	params = append(params, "algs="+quote(strings.Join(dpop.AlgNames(), " ")))
	return "DPoP " + strings.Join(params, ", ")
}

// memoryReplay is the default replay cache.
func memoryReplay(cfg Config) dpop.ReplayCache {
	if cfg.DPoPReplay != nil {
		return cfg.DPoPReplay
	}
	return dpop.NewMemory(0, cfg.Now)
}
