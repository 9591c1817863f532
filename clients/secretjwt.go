package clients

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// AuthSecretJWT is client authentication by a JWT the client MACs with its
// secret (OIDC Core §9 client_secret_jwt, RFC 7523 §2.2).
//
// The secret is the HMAC key, so idp must be able to use it, not only
// recognise it: for these clients, and only these, the secret is also kept
// sealed with AES-256-GCM under a key derived from the master key (the
// client id as additional data), as private signing keys and TOTP secrets
// are. A database dump alone yields neither it nor, through the HMAC, an
// offline guess. Every other client's secret is kept only as its HMAC.
const AuthSecretJWT = "client_secret_jwt"

// SecretAssertionAlgs are the JWS algorithms a client_secret_jwt assertion
// may use: HS256, whose 256-bit key is the size of a generated secret
// (HS384 and HS512 need longer keys than idp issues). It is accepted only
// from clients registered for client_secret_jwt, so a private_key_jwt
// client's public key can never serve as an HMAC key (the RS256/HS256
// confusion).
var SecretAssertionAlgs = []jose.SignatureAlgorithm{jose.HS256}

// sealLabel separates the sealing key from the HMAC pepper it is derived
// from.
const sealLabel = "idp client_secret_jwt seal v1"

// newSecretAEAD derives the sealing key from the pepper (itself derived
// from the master key): HMAC-SHA256(pepper, label).
func newSecretAEAD(pepper []byte) cipher.AEAD {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(sealLabel))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic("clients: aes: " + err.Error()) // 32-byte key: cannot fail
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("clients: gcm: " + err.Error())
	}
	return aead
}

// sealSecret encrypts a client_secret_jwt client's secret, bound to its id
// so a sealed secret copied onto another client's row does not open.
func (s *Service) sealSecret(id, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(id))
}

// openSecret returns the HMAC key of a client_secret_jwt client.
func (s *Service) openSecret(c *Client) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(c.SecretSealed) < n+s.aead.Overhead() {
		return nil, errors.New("the client has no sealed secret; regenerate it")
	}
	key, err := s.aead.Open(nil, c.SecretSealed[:n], c.SecretSealed[n:], []byte(c.ID))
	if err != nil {
		return nil, fmt.Errorf("the client's sealed secret does not open under this master key")
	}
	return key, nil
}

// usesSealedSecret reports whether clients with auth method m keep their
// secret sealed.
func usesSealedSecret(m string) bool { return m == AuthSecretJWT }

// isSecretAlg reports whether alg is one of SecretAssertionAlgs.
func isSecretAlg(alg string) bool {
	for _, a := range SecretAssertionAlgs {
		if string(a) == alg {
			return true
		}
	}
	return false
}
