package protocol

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/dpop"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/tokens"
)

// DPoPConfig is how the token endpoint and UserInfo check DPoP proofs
// (RFC 9449).
type DPoPConfig struct {
	// Nonces makes and checks the server nonces (required).
	Nonces *dpop.Nonces
	// RequireNonce demands a current server nonce in every proof (§8):
	// a proof without one is answered use_dpop_nonce with a fresh nonce
	// in DPoP-Nonce. Off by default: a nonce costs every client one
	// extra round trip, and the replay table already refuses a proof
	// seen twice; turn it on to bound how far ahead a stolen-key holder
	// can pre-compute proofs (§11.2).
	RequireNonce bool
	// Window bounds |iat - now| of a proof; 0 is dpop.DefaultWindow.
	Window time.Duration
}

// bindTokenProof checks the DPoP proof of a token request, if any, and
// binds what the grant mints to its key (tokens.WithProofKey): access
// tokens get cnf.jkt and token_type DPoP, a public client's refresh
// tokens the key (RFC 9449 §5). A client registered with
// dpop_bound_access_tokens must send one (§5.2). Without a proof nothing
// changes: the tokens are bearer tokens.
func (h *Handlers) bindTokenProof(c echo.Context, client *clients.Client) error {
	raw, present, err := proofHeader(c)
	if err != nil {
		return err
	}
	if !present {
		if client.DPoPBoundAccessTokens {
			return oauth.InvalidRequest("this client must send a DPoP proof with every token request (dpop_bound_access_tokens)")
		}
		return nil
	}
	p, err := h.checkProof(c, raw, plumbing.PathToken, "", http.StatusBadRequest)
	if err != nil {
		return err
	}
	r := c.Request()
	c.SetRequest(r.WithContext(tokens.WithProofKey(r.Context(), p.JKT)))
	return nil
}

// proofHeader returns the request's DPoP header; more than one is
// invalid (RFC 9449 §4.3 step 1).
func proofHeader(c echo.Context) (string, bool, error) {
	vals := c.Request().Header.Values(dpop.HeaderName)
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
		return vals[0], true, nil
	}
	return "", true, oauth.InvalidDPoPProof("send exactly one DPoP header")
}

// checkProof verifies a proof for the endpoint at path of idp's issuer
// (the htu the client was told about, never the Host header), then claims
// it in the replay table shared by every replica (RFC 9449 §11.1). status
// is the HTTP status of a refusal: 400 at the token endpoint, 401 at a
// resource (§7.1). When nonces are required, every answer carries the
// current one, so the client has it for its next proof (§8.2).
func (h *Handlers) checkProof(c echo.Context, raw, path, accessToken string, status int) (*dpop.Proof, error) {
	now := h.site.Now()
	cfg := h.cfg.DPoP
	req := dpop.Request{Method: c.Request().Method, URL: h.site.URL(path), AccessToken: accessToken, Now: now, Window: cfg.Window}
	if cfg.RequireNonce {
		req.Nonce = func(n string) bool { return cfg.Nonces.Valid(n, now) }
		c.Response().Header().Set(dpop.NonceHeader, cfg.Nonces.Current(now))
	}
	p, err := dpop.Verify(raw, req)
	if errors.Is(err, dpop.ErrUseNonce) {
		e := oauth.UseDPoPNonce("the DPoP proof must carry the nonce in the DPoP-Nonce header")
		e.Status = status
		return nil, e
	}
	if err != nil {
		e := oauth.InvalidDPoPProof(dpop.Describe(err)).Wrap(err)
		e.Status = status
		return nil, e
	}
	fresh, err := h.site.Tokens.ClaimProof(c.Request().Context(), p.ReplayKey(), p.Until)
	if err != nil {
		return nil, fmt.Errorf("record DPoP proof: %w", err)
	}
	if !fresh {
		e := oauth.InvalidDPoPProof(dpop.ErrReplay.Error())
		e.Status = status
		return nil, e
	}
	return p, nil
}

// resourceClaims authenticates a request to a resource of idp's own
// (UserInfo) by its access token, either scheme (RFC 9449 §7): DPoP with
// a proof by the key the token is bound to (ath matching the token), or
// Bearer with an unbound token. A bound token sent as Bearer, or without
// its proof, is invalid_token with a DPoP challenge: a stolen bound token
// is worth nothing without the key.
func (h *Handlers) resourceClaims(c echo.Context, path string) (*tokens.AccessClaims, error) {
	plumbing.MarkDPoPResource(c, false)
	scheme, tok, _ := strings.Cut(c.Request().Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "DPoP") {
		return h.site.BearerClaims(c) // refuses a DPoP-bound token, with a DPoP challenge
	}
	plumbing.MarkDPoPResource(c, true)
	tok = strings.TrimSpace(tok)
	claims, err := h.site.Tokens.VerifyAccessToken(c.Request().Context(), tok)
	if err != nil {
		return nil, err
	}
	if claims.Cnf == nil || claims.Cnf.JKT == "" {
		return nil, oauth.InvalidToken("the access token is not DPoP-bound: send it with the Bearer scheme")
	}
	raw, present, err := proofHeader(c)
	if err != nil {
		e := oauth.InvalidDPoPProof("send exactly one DPoP header")
		e.Status = http.StatusUnauthorized
		return nil, e
	}
	if !present {
		return nil, oauth.InvalidToken("a DPoP-bound access token needs a DPoP proof")
	}
	p, err := h.checkProof(c, raw, path, tok, http.StatusUnauthorized)
	if err != nil {
		return nil, err
	}
	if p.JKT != claims.Cnf.JKT {
		return nil, oauth.InvalidToken("the DPoP proof is not signed by the key the access token is bound to")
	}
	return claims, nil
}

// parseDPoPJKT checks the dpop_jkt authorization request parameter (RFC
// 9449 §10): the base64url SHA-256 thumbprint of the key the code will be
// bound to, or nothing.
func parseDPoPJKT(v string) (string, *oauth.Error) {
	if v == "" {
		return "", nil
	}
	if b, err := base64.RawURLEncoding.DecodeString(v); err != nil || len(b) != sha256.Size {
		return "", oauth.InvalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint")
	}
	return v, nil
}

// bindPushProof binds a pushed authorization request to the key of the
// DPoP proof it came with (RFC 9449 §10.1), as if it had said dpop_jkt;
// when it says dpop_jkt as well, the two must agree. Without a proof the
// parameters are left as they are.
func (h *Handlers) bindPushProof(c echo.Context, params url.Values) error {
	raw, present, err := proofHeader(c)
	if err != nil || !present {
		return err
	}
	p, err := h.checkProof(c, raw, plumbing.PathPAR, "", http.StatusBadRequest)
	if err != nil {
		return err
	}
	if jkt := params.Get("dpop_jkt"); jkt != "" && jkt != p.JKT {
		return oauth.InvalidDPoPProof("dpop_jkt is not the thumbprint of the DPoP proof's key")
	}
	params.Set("dpop_jkt", p.JKT)
	return nil
}
