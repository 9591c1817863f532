package tokens

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/oauth"
)

// TestDPoPClaimProofOnce: of racing claims of one proof exactly one wins,
// on either database (the primary key is the lock), and the purge drops
// the row only once it is stale.
func TestDPoPClaimProofOnce(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	until := e.clock.Now().Add(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := e.s.ClaimProof(ctx, "proof-key", until)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d claims of one proof won", wins)
	}
	if ok, err := e.s.ClaimProof(ctx, "other-proof", until); err != nil || !ok {
		t.Fatalf("a different proof: %v %v", ok, err)
	}
	if n, err := e.s.PurgeProofs(ctx, 100); err != nil || n != 0 {
		t.Fatalf("purged %d live proofs, %v", n, err)
	}
	e.clock.Advance(time.Minute)
	if n, err := e.s.PurgeProofs(ctx, 100); err != nil || n != 2 {
		t.Fatalf("purged %d stale proofs, want 2 (%v)", n, err)
	}
}

// TestDPoPMintBindsToProofKey: under WithProofKey the access token carries
// cnf.jkt and the response says DPoP; without it, Bearer and no cnf.
func TestDPoPMintBindsToProofKey(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	now := e.clock.Now()
	g := &Grant{ClientID: e.client.ID, UserID: e.user.ID, Scopes: []string{"openid"}, AuthTime: now,
		JTI: oauth.NewSecret(16), AccessExpiresAt: now.Add(time.Minute)}
	for _, jkt := range []string{"", "thumb"} {
		resp, err := e.s.Mint(WithProofKey(context.Background(), jkt), "ES256", g, e.user)
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.s.VerifyAccessToken(context.Background(), resp.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		wantType := map[string]string{"": TokenTypeBearer, "thumb": TokenTypeDPoP}[jkt]
		if resp.TokenType != wantType || (jkt == "") != (c.Cnf == nil) || (c.Cnf != nil && c.Cnf.JKT != jkt) {
			t.Errorf("jkt %q: token_type %s, cnf %+v", jkt, resp.TokenType, c.Cnf)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(resp.AccessToken, ".")[1])
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if _, has := m["cnf"]; has != (jkt != "") {
			t.Errorf("jkt %q: claims %v", jkt, m)
		}
	}
}

// TestDPoPRefreshFamilyBinding: a public client's bound family refreshes
// only with its key; without a proof or with another key it is
// invalid_grant and the family stays alive; a confidential client's
// family is never bound.
func TestDPoPRefreshFamilyBinding(t *testing.T) {
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	tok := e.family(t)
	fam, err := e.s.store.family(ctx, familyID(t, e, tok))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Gorm.Exec(`UPDATE refresh_families SET dpop_jkt = ? WHERE id = ?`, "key-a", fam.ID).Error; err != nil {
		t.Fatal(err)
	}
	for _, jkt := range []string{"", "key-b"} {
		_, err := e.s.Refresh(WithProofKey(ctx, jkt), e.client, tok, "", nil, Meta{})
		if !errors.Is(err, oauth.InvalidGrant("")) {
			t.Fatalf("refresh with key %q: %v, want invalid_grant", jkt, err)
		}
	}
	resp, err := e.s.Refresh(WithProofKey(ctx, "key-a"), e.client, tok, "", nil, Meta{})
	if err != nil || resp.TokenType != TokenTypeDPoP {
		t.Fatalf("refresh with the bound key: %+v, %v", resp, err)
	}
	if got := familyKey(WithProofKey(ctx, "k"), e.client); got != "" {
		t.Errorf("a confidential client's family was bound to %q", got)
	}
	pub := *e.client
	pub.Public = true
	if got := familyKey(WithProofKey(ctx, "k"), &pub); got != "k" {
		t.Errorf("a public client's family bound to %q", got)
	}
}

func familyID(t *testing.T, e *refreshEnv, tok string) string {
	t.Helper()
	row, _, err := e.s.store.refresh(context.Background(), oauth.HashSecret(tok))
	if err != nil {
		t.Fatal(err)
	}
	return row.FamilyID
}
