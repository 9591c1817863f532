//go:build libcrypto && cgo

package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"
)

// TestRS256ContextsReusedConcurrently: prepared signing contexts pass from
// signer to signer, one at a time each, and every signature under
// concurrency is still crypto/rsa's, byte for byte; at most idleContexts
// stay kept.
func TestRS256ContextsReusedConcurrently(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const signers, each = 4 * 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, signers*each)
	for g := range signers {
		wg.Go(func() {
			for i := range each {
				digest := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
				sig, err := signRS256(k, digest[:])
				if err != nil {
					errs <- err
					return
				}
				want, _ := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
				if string(sig) != string(want) {
					errs <- fmt.Errorf("signature %d/%d differs from crypto/rsa's", g, i)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	lk := keyFor(k)
	if n := len(lk.idle); n == 0 || n > idleContexts {
		t.Fatalf("%d contexts kept after %d concurrent signers, want 1..%d", n, signers, idleContexts)
	}
}

// TestRS256KeyFreedWhenCollected: once Go collects a key (a rotated-out
// key nobody holds), its OpenSSL copy and kept contexts are freed and its
// entry leaves the table.
func TestRS256KeyFreedWhenCollected(t *testing.T) {
	wk := func() weak.Pointer[rsa.PrivateKey] {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256([]byte("x"))
		if _, err := signRS256(k, digest[:]); err != nil {
			t.Fatal(err)
		}
		if _, ok := libcryptoKeys.Load(weak.Make(k)); !ok {
			t.Fatal("no entry for a key in use")
		}
		return weak.Make(k)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if _, ok := libcryptoKeys.Load(wk); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the collected key's OpenSSL copy was never freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
