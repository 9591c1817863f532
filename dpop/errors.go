package dpop

import "errors"

// proofError is a reason a proof was refused. Each matches ErrInvalidProof
// under errors.Is; its message is safe to send to the proof's presenter as
// an error_description.
type proofError struct{ msg string }

// Error returns the client-safe reason.
func (e *proofError) Error() string { return e.msg }

// Is makes every reason match ErrInvalidProof.
func (e *proofError) Is(target error) bool { return target == ErrInvalidProof }

// Reasons a proof is refused (RFC 9449 §4.3); every one but ErrUseNonce
// is answered invalid_dpop_proof.
var (
	// ErrInvalidProof matches every reason below except ErrUseNonce.
	ErrInvalidProof error = &proofError{"invalid DPoP proof"}
	// ErrMalformed: not a compact JWS, or a claim is missing.
	ErrMalformed error = &proofError{"malformed DPoP proof"}
	// ErrType: typ is not dpop+jwt.
	ErrType error = &proofError{"DPoP proof typ must be dpop+jwt"}
	// ErrAlgorithm: alg is none, HMAC or not in Algs.
	ErrAlgorithm error = &proofError{"unsupported DPoP proof algorithm"}
	// ErrKey: the jwk header is missing, private, symmetric or too weak.
	ErrKey error = &proofError{"DPoP proof jwk must be a public key"}
	// ErrSignature: the signature does not verify with the jwk.
	ErrSignature error = &proofError{"DPoP proof signature is invalid"}
	// ErrMethod: htm is not the request's method.
	ErrMethod error = &proofError{"DPoP proof htm does not match the request method"}
	// ErrURI: htu is not the request's URI.
	ErrURI error = &proofError{"DPoP proof htu does not match the request URI"}
	// ErrStale: iat is outside the window.
	ErrStale error = &proofError{"DPoP proof iat is too old or in the future"}
	// ErrAccessTokenHash: ath is not the presented access token's hash.
	ErrAccessTokenHash error = &proofError{"DPoP proof ath does not match the access token"}
	// ErrReplay: the proof's jti was seen before (for replay caches).
	ErrReplay error = &proofError{"DPoP proof was already used"}
	// ErrUseNonce: the server requires a nonce and the proof has none, or
	// a stale one; answer use_dpop_nonce with a fresh DPoP-Nonce (§8).
	// It does not match ErrInvalidProof.
	ErrUseNonce error = useNonceError{}
)

type useNonceError struct{}

func (useNonceError) Error() string { return "a fresh DPoP nonce is required" }

// reasons lists the specific reasons, for Describe.
var reasons = []error{ErrMalformed, ErrType, ErrAlgorithm, ErrKey, ErrSignature, ErrMethod, ErrURI,
	ErrStale, ErrAccessTokenHash, ErrReplay}

// Describe names the reason err wraps in words safe to send back.
func Describe(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r) {
			return r.Error()
		}
	}
	if errors.Is(err, ErrUseNonce) {
		return ErrUseNonce.Error()
	}
	return ErrInvalidProof.Error()
}
