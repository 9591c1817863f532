package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrWrongMasterKey is returned, wrapped with the kid, when a stored private
// key does not decrypt: the master key is not the one the key was sealed
// under, or the row was tampered with (for example ciphertext copied from
// another row).
var ErrWrongMasterKey = errors.New("private key does not decrypt: wrong master key or tampered row")

// sealLabel is the Derive label of the signing-key cipher. It is part of the
// at-rest format: changing it makes every stored key unreadable.
const sealLabel = "signing-key-encryption"

// sealer encrypts private JWKs with AES-256-GCM (hydra's aead). A
// cipher.AEAD keeps no per-call state, so one sealer serves every goroutine.
type sealer struct{ aead cipher.AEAD }

// mustSealer builds the cipher from a key derived for this purpose only.
// AES-256 and GCM only fail on a wrong key or block size, which a 32-byte
// derived key and AES rule out, so an error here is a programming error.
func mustSealer(mk MasterKey) *sealer {
	k := mk.Derive(sealLabel)
	defer clear(k)
	block, err := aes.NewCipher(k)
	if err != nil {
		panic("keys: aes: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("keys: gcm: " + err.Error())
	}
	return &sealer{aead: aead}
}

// seal returns nonce || ciphertext. The kid is the additional data, so a
// ciphertext moved to another row fails to open there instead of silently
// making that row sign with someone else's key. A random 96-bit nonce is
// safe: a deployment seals a few keys a month, far below GCM's 2^32 limit.
func (s *sealer) seal(kid string, plaintext []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal key %s: %w", kid, err)
	}
	return s.aead.Seal(out, out, plaintext, []byte(kid)), nil
}

// open reverses seal; any failure is ErrWrongMasterKey because GCM cannot
// tell a wrong key from a tampered ciphertext, and both need the same fix.
func (s *sealer) open(kid string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, fmt.Errorf("key %s: %w", kid, ErrWrongMasterKey)
	}
	pt, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", kid, ErrWrongMasterKey)
	}
	return pt, nil
}
