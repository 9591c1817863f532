package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"
)

// TestRS256Backend: whichever backend this binary signs with (Go, or the
// system libcrypto with -tags libcrypto), its RS256 signatures are the ones
// crypto/rsa makes, byte for byte (PKCS #1 v1.5 is deterministic), crypto/rsa
// verifies them, and it refuses what crypto/rsa refuses.
func TestRS256Backend(t *testing.T) {
	t.Logf("RS256 backend: %s", RS256Backend)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		digest := sha256.Sum256([]byte{byte(i), 'x'})
		sig, err := signRS256(k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		want, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		if string(sig) != string(want) {
			t.Fatalf("signature %d differs from crypto/rsa's", i)
		}
		if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("crypto/rsa rejects signature %d: %v", i, err)
		}
	}

	// What crypto/rsa refuses to sign with or sign.
	digest := sha256.Sum256([]byte("x"))
	t.Setenv("GODEBUG", "rsa1024min=0") // to make a key Go then refuses to sign with
	small, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GODEBUG", "")
	refusal(t, "512-bit key", small, digest[:])
	broken := *k
	broken.D = new(big.Int).Add(k.D, big.NewInt(2)) // not k's private exponent
	broken.Precomputed = rsa.PrecomputedValues{}
	refusal(t, "inconsistent key", &broken, digest[:])
	refusal(t, "short digest", k, digest[:20])
}

// refusal fails t unless crypto/rsa and the backend both refuse to sign.
func refusal(t *testing.T, name string, k *rsa.PrivateKey, digest []byte) {
	t.Helper()
	_, goErr := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest)
	_, err := signRS256(k, digest)
	if goErr == nil {
		t.Fatalf("%s: crypto/rsa signs it; the case tests nothing", name)
	}
	if err == nil {
		t.Errorf("%s: crypto/rsa refuses (%v) but the %s backend signs", name, goErr, RS256Backend)
	}
}
