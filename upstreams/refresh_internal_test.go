package upstreams

import (
	"bytes"
	"testing"
	"time"
)

// TestGrantSealing: a kept upstream grant is sealed, opens only on its
// own link (the upstream id and sub are the additional data), and a
// sealed client secret is never taken for one.
func TestGrantSealing(t *testing.T) {
	s := NewService(nil, nil, Config{SealKey: bytes.Repeat([]byte{7}, 32)})
	g := &grant{RefreshToken: "rt-violet-tangerine", AccessToken: "gho_lighthouse"}
	sealed := s.sealGrant("corp", "42", g)
	for _, plain := range []string{g.RefreshToken, g.AccessToken, `"rt"`} {
		if bytes.Contains(sealed, []byte(plain)) {
			t.Fatalf("sealed grant holds %q in the clear", plain)
		}
	}
	if bytes.Equal(sealed, s.sealGrant("corp", "42", g)) {
		t.Error("two seals of one grant are equal: the nonce is not fresh")
	}
	got, err := s.openGrant("corp", "42", sealed)
	if err != nil || got.RefreshToken != g.RefreshToken || got.AccessToken != g.AccessToken {
		t.Fatalf("open: %+v, %v", got, err)
	}
	for _, other := range [][2]string{{"corp", "43"}, {"corp2", "42"}, {"corp\x0042", ""}} {
		if _, err := s.openGrant(other[0], other[1], sealed); err == nil {
			t.Errorf("the grant of (corp, 42) opens as (%q, %q)", other[0], other[1])
		}
	}
	if _, err := s.openGrant("corp", "42", s.seal("corp", "a client secret")); err == nil {
		t.Error("a sealed client secret opens as a grant")
	}
	if _, err := s.openGrant("corp", "42", sealed[:10]); err == nil {
		t.Error("a truncated grant opens")
	}
}

// TestGrantOf: what a sign-in's token response leaves to ask with.
func TestGrantOf(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	oidc, oauth2 := &Upstream{Kind: KindOIDC}, &Upstream{Kind: KindOAuth2}
	if g := grantOf(oidc, &tokenResponse{AccessToken: "at", IDToken: "x"}, now); g != nil {
		t.Errorf("oidc without a refresh token keeps %+v", g)
	}
	if g := grantOf(oidc, &tokenResponse{AccessToken: "at", RefreshToken: "rt"}, now); g == nil || g.RefreshToken != "rt" || g.AccessToken != "" {
		t.Errorf("oidc keeps %+v, want only the refresh token", g)
	}
	scope := "read:org"
	g := grantOf(oauth2, &tokenResponse{AccessToken: "at", ExpiresIn: 3600, Scope: &scope}, now)
	if g == nil || g.AccessToken != "at" || !g.ExpiresAt.Equal(now.Add(time.Hour)) || g.Scope == nil || *g.Scope != scope {
		t.Errorf("oauth2 keeps %+v", g)
	}
	if g := grantOf(oauth2, &tokenResponse{}, now); g != nil {
		t.Errorf("no access token keeps %+v", g)
	}
}

// TestKeyedLock: one key's holders take turns; the map forgets idle keys.
func TestKeyedLock(t *testing.T) {
	var k keyedLock
	unlock := k.lock("a")
	done := make(chan struct{})
	go func() { k.lock("a")(); close(done) }()
	k.lock("b")() // another key does not wait
	select {
	case <-done:
		t.Fatal("a second holder of key a did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	unlock()
	<-done
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) != 0 {
		t.Errorf("%d keys left in the map", len(k.m))
	}
}
