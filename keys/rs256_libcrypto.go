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

// idp_rs256_ctx prepares a signing context for key: RSASSA-PKCS1-v1_5
// over a SHA-256 digest; NULL on failure. Preparing one costs OpenSSL 3
// algorithm fetches and property lookups, so prepared contexts are reused
// (one at a time each: a context is not safe for concurrent use).
static EVP_PKEY_CTX *idp_rs256_ctx(EVP_PKEY *key) {
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	if (ctx != NULL
		&& EVP_PKEY_sign_init(ctx) == 1
		&& EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1
		&& EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1) {
		return ctx;
	}
	EVP_PKEY_CTX_free(ctx);
	return NULL;
}

// idp_rs256 signs a SHA-256 digest with a context from idp_rs256_ctx; 1 on
// success.
static int idp_rs256(EVP_PKEY_CTX *ctx, const unsigned char *digest, size_t dlen,
                     unsigned char *sig, size_t *siglen) {
	return EVP_PKEY_sign(ctx, sig, siglen, digest, dlen) == 1;
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
	// idle holds prepared signing contexts between signatures, at most
	// one per concurrent signer worth keeping; each holds a reference to
	// pkey, and the key's cleanup frees them.
	idle chan *C.EVP_PKEY_CTX
}

// idleContexts bounds the prepared contexts kept per key: more than the
// signers that run at once would only hold memory.
var idleContexts = 2 * runtime.GOMAXPROCS(0)

// context takes a prepared signing context, or prepares one.
func (lk *libcryptoKey) context() *C.EVP_PKEY_CTX {
	select {
	case ctx := <-lk.idle:
		return ctx
	default:
		return C.idp_rs256_ctx(lk.pkey)
	}
}

// release keeps ctx for the next signature, or frees it when enough are kept.
func (lk *libcryptoKey) release(ctx *C.EVP_PKEY_CTX) {
	select {
	case lk.idle <- ctx:
	default:
		C.EVP_PKEY_CTX_free(ctx)
	}
}

// free releases the OpenSSL key and every context kept for it.
func (lk *libcryptoKey) free() {
	for {
		select {
		case ctx := <-lk.idle:
			C.EVP_PKEY_CTX_free(ctx)
		default:
			if lk.pkey != nil {
				C.EVP_PKEY_free(lk.pkey)
			}
			return
		}
	}
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
	ctx := lk.context()
	if ctx == nil {
		runtime.KeepAlive(k)
		return nil, errors.New("rs256: libcrypto cannot prepare a signature")
	}
	sig := make([]byte, k.Size())
	n := C.size_t(len(sig))
	ok := C.idp_rs256(ctx, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n)
	if ok == 1 {
		lk.release(ctx)
	} else {
		C.EVP_PKEY_CTX_free(ctx) // its state after a failure is not worth trusting
	}
	runtime.KeepAlive(k) // k's cleanup frees lk.pkey and the kept contexts
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
	lk := &libcryptoKey{idle: make(chan *C.EVP_PKEY_CTX, idleContexts)}
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
		lk.free()
		return v.(*libcryptoKey)
	}
	runtime.AddCleanup(k, func(wk weak.Pointer[rsa.PrivateKey]) {
		if v, ok := libcryptoKeys.LoadAndDelete(wk); ok {
			v.(*libcryptoKey).free()
		}
	}, wk)
	return lk
}
