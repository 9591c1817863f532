//go:build !libcrypto || !cgo

package keys

import (
	"crypto"
	"crypto/rsa"
)

// RS256Backend names the RSA implementation this binary signs with: Go's
// crypto/rsa by default, the system libcrypto with -tags libcrypto.
const RS256Backend = "go"

// signRS256 signs a SHA-256 digest with RSASSA-PKCS1-v1_5.
func signRS256(k *rsa.PrivateKey, digest []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest)
}
