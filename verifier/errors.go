package verifier

// tokenError is a reason a token was refused. Each one also matches
// ErrInvalidToken under errors.Is, so callers that do not care why can test
// for that alone. Its message is safe to show to the token's presenter: the
// middleware uses it as the RFC 6750 error_description.
type tokenError struct{ msg string }

// Error returns the client-safe reason.
func (e *tokenError) Error() string { return e.msg }

// Is makes every reason match ErrInvalidToken.
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }

// Reasons a token is refused. Returned errors wrap exactly one of them, with
// details (which kid, which time) for logs.
var (
	// ErrInvalidToken matches every refusal; on its own it means the token
	// is malformed or lacks a required claim.
	ErrInvalidToken error = &tokenError{"invalid token"}
	// ErrAlgorithm: alg is none, HMAC or anything but RS256 and ES256, or
	// differs from the alg of the key named by kid (RFC 8725 §3.1).
	ErrAlgorithm error = &tokenError{"unacceptable signing algorithm"}
	// ErrSignature: the signature does not verify with the key.
	ErrSignature error = &tokenError{"invalid signature"}
	// ErrUnknownKey: kid is not in the issuer's JWKS, even after a refetch
	// (never published, revoked, or retired long ago).
	ErrUnknownKey error = &tokenError{"unknown signing key"}
	// ErrTokenType: typ says it is another kind of token, e.g. an ID token
	// presented as an access token (RFC 9068 §4, RFC 8725 §3.11).
	ErrTokenType error = &tokenError{"wrong token type"}
	// ErrIssuer: iss is not exactly the configured issuer.
	ErrIssuer error = &tokenError{"wrong issuer"}
	// ErrAudience: aud does not contain the configured audience, or an ID
	// token's azp names another client.
	ErrAudience error = &tokenError{"wrong audience"}
	// ErrExpired: exp is past, beyond the leeway.
	ErrExpired error = &tokenError{"token expired"}
	// ErrNotYetValid: nbf or iat is in the future, beyond the leeway.
	ErrNotYetValid error = &tokenError{"token not yet valid"}
	// ErrNonce: an ID token's nonce is not the one the caller sent.
	ErrNonce error = &tokenError{"nonce mismatch"}
)

// reasons lists the specific reasons, most specific first, so describe can
// name the one an error wraps.
var reasons = []error{ErrAlgorithm, ErrSignature, ErrUnknownKey, ErrTokenType, ErrIssuer,
	ErrAudience, ErrExpired, ErrNotYetValid, ErrNonce}
