package tokens

import (
	"context"
	"time"

	"idp/clients"
	"idp/oauth"
)

// Token types of the token response (RFC 6749 §7.1, RFC 9449 §5).
const (
	TokenTypeBearer = "Bearer"
	TokenTypeDPoP   = "DPoP"
)

// Confirmation is an access token's cnf claim (RFC 7800 §3.1): for a
// DPoP-bound token, the thumbprint of the key (RFC 9449 §6.1).
type Confirmation struct {
	JKT string `json:"jkt"`
}

// proofKeyCtx carries the thumbprint of the DPoP proof the token request
// came with.
type proofKeyCtx struct{}

// WithProofKey returns ctx carrying jkt, the thumbprint of a verified DPoP
// proof of the token request (RFC 9449 §5). Whatever is minted under it
// is bound to that key: Mint puts cnf.jkt in the access token and answers
// token_type DPoP, and a public client's new refresh family is bound to
// it. The key travels in the context, as the transaction does, so every
// grant — present and future — binds its tokens without each growing a
// parameter.
func WithProofKey(ctx context.Context, jkt string) context.Context {
	if jkt == "" {
		return ctx
	}
	return context.WithValue(ctx, proofKeyCtx{}, jkt)
}

// ProofKey returns the thumbprint WithProofKey put in ctx, or "".
func ProofKey(ctx context.Context) string {
	jkt, _ := ctx.Value(proofKeyCtx{}).(string)
	return jkt
}

// confirmation is the cnf of an access token minted under ctx.
func confirmation(ctx context.Context) (*Confirmation, string) {
	if jkt := ProofKey(ctx); jkt != "" {
		return &Confirmation{JKT: jkt}, TokenTypeDPoP
	}
	return nil, TokenTypeBearer
}

// familyKey is the key a new refresh family is bound to: a public
// client's proof key. A confidential client authenticates at every
// refresh, so its refresh tokens stay unbound (RFC 9449 §5, §5.0 note)
// while each new access token is bound to the proof of that refresh.
func familyKey(ctx context.Context, client *clients.Client) string {
	if client.Public {
		return ProofKey(ctx)
	}
	return ""
}

// checkFamilyKey refuses a refresh of a bound family without a proof by
// the same key (RFC 9449 §5). It runs before reuse detection and the
// grace window, so a stolen token without the key neither gets the
// retried response nor revokes the family.
func checkFamilyKey(ctx context.Context, fam *familyRow) error {
	if fam.DPoPJKT != "" && ProofKey(ctx) != fam.DPoPJKT {
		return oauth.InvalidGrant("the refresh token is bound to another DPoP key")
	}
	return nil
}

// ClaimProof records a DPoP proof at one of idp's endpoints (see
// Store.ClaimProof); *Service satisfies dpop.ReplayCache.
func (s *Service) ClaimProof(ctx context.Context, key string, until time.Time) (bool, error) {
	return s.store.ClaimProof(ctx, key, until)
}

// PurgeProofs forgets up to limit stale DPoP proofs; the GC loop calls it.
func (s *Service) PurgeProofs(ctx context.Context, limit int) (int64, error) {
	return s.store.purgeProofs(ctx, s.now(), limit)
}
