package keys

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"
)

func mustJWKS(t testing.TB, m *Manager) *JWKS {
	t.Helper()
	j, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	return j
}

// jwksKids returns the kids of a JWKS document, checking each member's
// shape on the way.
func jwksKids(t testing.TB, j *JWKS) []string {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(j.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS key %v has private member %q", k["kid"], private)
			}
		}
		kid, _ := k["kid"].(string)
		if kid == "" || k["use"] != "sig" || (k["alg"] != RS256 && k["alg"] != ES256) {
			t.Fatalf("JWKS key lacks kid/alg/use: %v", k)
		}
		if want := map[any]string{RS256: "RSA", ES256: "EC"}[k["alg"]]; k["kty"] != want {
			t.Fatalf("JWKS key %s: kty %v, want %s", kid, k["kty"], want)
		}
		kids = append(kids, kid)
	}
	return kids
}

func TestJWKSContentsAndETag(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	j := mustJWKS(t, m)
	kids := jwksKids(t, j)
	if len(kids) != 4 || !slices.IsSorted(kids) {
		t.Fatalf("kids %v: want 4, sorted", kids)
	}
	var live []string
	for _, k := range mustList(t, m) {
		live = append(live, k.KID)
	}
	slices.Sort(live)
	if !slices.Equal(kids, live) {
		t.Fatalf("JWKS kids %v, want active+next %v", kids, live)
	}
	zr, err := gzip.NewReader(bytes.NewReader(j.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	if unz, err := io.ReadAll(zr); err != nil || !bytes.Equal(unz, j.JSON) {
		t.Fatalf("Gzip does not decompress to JSON: %v", err)
	}
	if len(j.ETag) < 10 || j.ETag[0] != '"' || j.ETag[len(j.ETag)-1] != '"' {
		t.Fatalf("ETag %s is not a quoted strong validator", j.ETag)
	}

	// Stable across calls, reloads and other processes with the same keys.
	e.clock.Advance(MaxCacheTTL)
	if j2 := mustJWKS(t, m); j2 != j {
		t.Fatal("JWKS rebuilt although the kid set did not change")
	}
	if j3 := mustJWKS(t, e.bootstrapped()); j3.ETag != j.ETag || !bytes.Equal(j3.JSON, j.JSON) {
		t.Fatal("another process builds a different JWKS for the same keys")
	}

	rot, err := m.Rotate(ctx, RS256, true)
	if err != nil {
		t.Fatal(err)
	}
	j4 := mustJWKS(t, m)
	if j4.ETag == j.ETag {
		t.Fatal("ETag unchanged after rotation")
	}
	kids = jwksKids(t, j4)
	if len(kids) != 5 || !slices.Contains(kids, rot.Retired.KID) || !slices.Contains(kids, rot.Next.KID) {
		t.Fatalf("after rotation: kids %v, want retired %s and next %s among 5", kids, rot.Retired.KID, rot.Next.KID)
	}
}

func TestRetiredKeyLeavesJWKSAfterNotAfter(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	tok, err := m.Sign(ctx, ES256, []byte(`{}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	rot, err := m.Rotate(ctx, ES256, true)
	if err != nil {
		t.Fatal(err)
	}
	// It leaves the skew margin after the latest expiry it recorded before
	// signing: the token's, rounded up by at most one chunk.
	until := rot.Retired.NotAfter.Sub(e.clock.Now())
	if rot.Retired.SignedUntil == nil || !rot.Retired.NotAfter.Equal(rot.Retired.SignedUntil.Add(DefaultClockSkew)) ||
		until < e.opts.TokenTTL+DefaultClockSkew || until > e.opts.TokenTTL+m.chunk+DefaultClockSkew {
		t.Fatalf("retired key published for %v (signed_until %v), want TokenTTL+skew and at most a chunk more",
			until, rot.Retired.SignedUntil)
	}
	e.clock.Advance(until - time.Nanosecond)
	if !slices.Contains(jwksKids(t, mustJWKS(t, m)), rot.Retired.KID) {
		t.Fatal("retired key left the JWKS before not_after")
	}
	if _, _, err := m.Verify(ctx, tok); err != nil {
		t.Fatalf("token by the retired key before not_after: %v", err)
	}
	e.clock.Advance(time.Nanosecond)
	if slices.Contains(jwksKids(t, mustJWKS(t, m)), rot.Retired.KID) {
		t.Fatal("retired key still in the JWKS at not_after")
	}
	if _, _, err := m.Verify(ctx, tok); err == nil {
		t.Fatal("token by an expired retired key still verifies")
	}
}

// TestChangesSeenByOtherProcessWithinCacheTTL is the CLI scenario: the
// server's Manager sees a rotation or revocation made by another Manager on
// the same database once its cache is CacheTTL old.
func TestChangesSeenByOtherProcessWithinCacheTTL(t *testing.T) {
	e := newEnv(t)
	server := e.bootstrapped()
	ctx := context.Background()
	before := mustJWKS(t, server)
	tok, err := server.Sign(ctx, RS256, []byte(`{}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	_, oldKID, err := server.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}

	cli := e.manager()
	if _, err := cli.Revoke(ctx, oldKID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(MaxCacheTTL - time.Millisecond)
	if mustJWKS(t, server).ETag != before.ETag {
		t.Fatal("server reloaded before CacheTTL: the cache does not cache")
	}
	e.clock.Advance(time.Millisecond)
	after := mustJWKS(t, server)
	if after.ETag == before.ETag || slices.Contains(jwksKids(t, after), oldKID) {
		t.Fatal("server still publishes the revoked key after CacheTTL")
	}
	if _, _, err := server.Verify(ctx, tok); err == nil {
		t.Fatal("server still verifies a token by the revoked key after CacheTTL")
	}
	tok2, err := server.Sign(ctx, RS256, []byte(`{}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	if _, kid, err := cli.Verify(ctx, tok2); err != nil || kid == oldKID {
		t.Fatalf("server signs with %s (%v) after the revocation", kid, err)
	}
}
