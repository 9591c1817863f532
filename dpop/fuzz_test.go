package dpop_test

import (
	"testing"
	"time"

	"idp/dpop"
)

// FuzzVerify feeds arbitrary proofs, methods and URIs to the parser: it
// must never panic, and anything it accepts must carry a thumbprint and a
// jti. Seeds are in testdata/fuzz/FuzzVerify (a good ES256 proof, alg
// none, HS256, a private jwk, garbage).
func FuzzVerify(f *testing.F) {
	f.Add("", "POST", htu)
	f.Add("e30.e30.", "POST", htu)
	f.Fuzz(func(t *testing.T, raw, method, uri string) {
		p, err := dpop.Verify(raw, dpop.Request{Method: method, URL: uri, Now: now, Window: 100 * 365 * 24 * time.Hour,
			AccessToken: "", Nonce: nil})
		if err == nil && (p.JKT == "" || p.JTI == "") {
			t.Fatalf("accepted a proof without jkt or jti: %+v", p)
		}
		_ = dpop.Describe(err)
		_ = dpop.SameURI(uri, htu)
	})
}
