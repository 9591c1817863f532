package oauth

import "net/http"

// InvalidDPoPProof: the DPoP proof is missing where required, malformed,
// or does not match the request (RFC 9449 §5, §7.1); 400 at the token
// endpoint, 401 with a DPoP challenge at a resource (Status adjusted by
// the caller).
func InvalidDPoPProof(desc string) *Error {
	return newError("invalid_dpop_proof", http.StatusBadRequest, desc)
}

// UseDPoPNonce: the server requires a nonce in the DPoP proof, and the
// proof had none or a stale one; the answer carries a fresh DPoP-Nonce
// header (RFC 9449 §8, §9).
func UseDPoPNonce(desc string) *Error {
	return newError("use_dpop_nonce", http.StatusBadRequest, desc)
}
