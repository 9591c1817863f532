//go:build libcrypto && cgo

package keys

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

// idp_rsa_key parses a PKCS #1 DER private key; NULL on failure.
static EVP_PKEY *idp_rsa_key(const unsigned char *der, long len) {
	const unsigned char *p = der;
	return d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
}

// idp_rs256 signs a SHA-256 digest with RSASSA-PKCS1-v1_5; 1 on success.
static int idp_rs256(EVP_PKEY *key, const unsigned char *digest, size_t dlen,
                     unsigned char *sig, size_t *siglen) {
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	int ok = ctx != NULL
		&& EVP_PKEY_sign_init(ctx) == 1
		&& EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1
		&& EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1
		&& EVP_PKEY_sign(ctx, sig, siglen, digest, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// RS256Backend names the RSA implementation this binary signs with: Go's
// crypto/rsa by default, the system libcrypto with -tags libcrypto.
const RS256Backend = "libcrypto"

// libcryptoKeys holds, per *rsa.PrivateKey in use (weakly: a rotated-out
// key is dropped and its OpenSSL copy freed once Go collects it), the
// parsed OpenSSL key or the reason crypto/rsa would refuse to sign with it.
var libcryptoKeys sync.Map // weak.Pointer[rsa.PrivateKey] → *libcryptoKey

type libcryptoKey struct {
	pkey *C.EVP_PKEY
	err  error
}

// signRS256 signs a SHA-256 digest with RSASSA-PKCS1-v1_5 through the
// system libcrypto. It refuses first whatever crypto/rsa would refuse
// (a digest of the wrong length, a key Go would not sign with), so the
// two backends differ only in speed: PKCS #1 v1.5 signatures are
// deterministic, and the tests compare them byte for byte.
func signRS256(k *rsa.PrivateKey, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, errors.New("rs256: digest is not SHA-256 sized")
	}
	lk := keyFor(k)
	if lk.err != nil {
		return nil, lk.err
	}
	sig := make([]byte, k.Size())
	n := C.size_t(len(sig))
	ok := C.idp_rs256(lk.pkey, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n)
	runtime.KeepAlive(k) // k's cleanup frees lk.pkey
	if ok != 1 || int(n) != len(sig) {
		return nil, errors.New("rs256: libcrypto refused to sign")
	}
	return sig, nil
}

// keyFor returns k's entry, building it on first use: crypto/rsa signs a
// zero digest first, so a key Go refuses is refused here too.
func keyFor(k *rsa.PrivateKey) *libcryptoKey {
	wk := weak.Make(k)
	if v, ok := libcryptoKeys.Load(wk); ok {
		return v.(*libcryptoKey)
	}
	lk := &libcryptoKey{}
	var zero [sha256.Size]byte
	if _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, zero[:]); err != nil {
		lk.err = err
	} else {
		der := x509.MarshalPKCS1PrivateKey(k)
		lk.pkey = C.idp_rsa_key((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)))
		clear(der)
		if lk.pkey == nil {
			lk.err = errors.New("rs256: libcrypto cannot read the key")
		}
	}
	if v, loaded := libcryptoKeys.LoadOrStore(wk, lk); loaded {
		if lk.pkey != nil {
			C.EVP_PKEY_free(lk.pkey)
		}
		return v.(*libcryptoKey)
	}
	runtime.AddCleanup(k, func(wk weak.Pointer[rsa.PrivateKey]) {
		if v, ok := libcryptoKeys.LoadAndDelete(wk); ok && v.(*libcryptoKey).pkey != nil {
			C.EVP_PKEY_free(v.(*libcryptoKey).pkey)
		}
	}, wk)
	return lk
}
