package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// rsaBits is the RS256 modulus size: 2048 is the floor NIST SP 800-57
// accepts through 2030 and what every relying-party library handles.
const rsaBits = 2048

// generated is a newly generated key, sealed and ready to insert.
type generated struct {
	row     row
	private *jose.JSONWebKey
}

// generate makes a key for alg with a sealed private JWK. It runs before
// any transaction is opened: RSA generation takes tens of milliseconds, and
// holding a write lock that long would stall every other writer (dex).
func generate(s *sealer, alg string, now time.Time) (*generated, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("generate key: unknown algorithm %q (want one of %v)", alg, Algs)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	// The kid is the RFC 7638 thumbprint: unique without coordination, and
	// anyone holding the public key can recompute it.
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("generate %s key: thumbprint: %w", alg, err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	jwk := &jose.JSONWebKey{Key: priv, KeyID: pub.KeyID, Algorithm: alg, Use: "sig"}
	plain, err := json.Marshal(jwk)
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	defer clear(plain) // best effort: do not leave the JSON private key on the heap
	sealed, err := s.seal(pub.KeyID, plain)
	if err != nil {
		return nil, err
	}
	return &generated{
		row: row{
			KID: pub.KeyID, Alg: alg, PrivateEnc: sealed, PublicJWK: string(pubJSON), CreatedAt: now,
		},
		private: jwk,
	}, nil
}

// openPrivate decrypts and parses a row's private JWK and checks that it
// belongs to the row: same kid and alg, and the public half matches the
// published public_jwk, so an edited row cannot sign under a kid whose
// published key would not verify.
func openPrivate(s *sealer, r *row, pub *jose.JSONWebKey) (*jose.JSONWebKey, error) {
	plain, err := s.open(r.KID, r.PrivateEnc)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(plain); err != nil {
		return nil, fmt.Errorf("key %s: private JWK: %w", r.KID, err)
	}
	if k.IsPublic() || k.KeyID != r.KID || k.Algorithm != r.Alg {
		return nil, fmt.Errorf("key %s: private JWK does not match its row", r.KID)
	}
	if rk, ok := k.Key.(*rsa.PrivateKey); ok {
		// Precomputed CRT values make each signature several times faster.
		rk.Precompute()
	}
	pk := k.Public()
	a, err1 := pk.Thumbprint(crypto.SHA256)
	b, err2 := pub.Thumbprint(crypto.SHA256)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("key %s: %w", r.KID, err)
	}
	if string(a) != string(b) {
		return nil, fmt.Errorf("key %s: private key does not match the published public key", r.KID)
	}
	return &k, nil
}

// parsePublic parses a row's public_jwk and refuses anything that is not a
// public key of the row's own kid and alg, so JWKS can never leak private
// members even if a row was written by hand.
func parsePublic(r *row) (*jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(r.PublicJWK)); err != nil {
		return nil, fmt.Errorf("key %s: public JWK: %w", r.KID, err)
	}
	if !k.IsPublic() || !k.Valid() || k.KeyID != r.KID || k.Algorithm != r.Alg {
		return nil, fmt.Errorf("key %s: public JWK does not match its row", r.KID)
	}
	k.Use = "sig"
	return &k, nil
}
