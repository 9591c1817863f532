package upstreams

import (
	"slices"
	"testing"
)

// TestUpstreamAMR: an OpenID provider's amr reaches idp's amr with only
// the RFC 8176 registered values, once each, in its order; a plain OAuth
// 2.0 provider's (unsigned) userinfo never adds methods.
func TestUpstreamAMR(t *testing.T) {
	claims := map[string]any{"sub": "u1", "amr": []any{"pwd", "mfa", "<script>", "pwd", 7.0, "hwk", "PWD"}}
	ident, err := ClaimMapping{}.identity(KindOIDC, claims)
	if err != nil || !slices.Equal(ident.AMR, []string{"pwd", "mfa", "hwk"}) {
		t.Fatalf("oidc amr %v %v", ident, err)
	}
	one, err := ClaimMapping{}.identity(KindOIDC, map[string]any{"sub": "u1", "amr": "otp"})
	if err != nil || !slices.Equal(one.AMR, []string{"otp"}) {
		t.Fatalf("a single string: %v %v", one, err)
	}
	for _, c := range []map[string]any{{"sub": "u1"}, {"sub": "u1", "amr": map[string]any{"pwd": true}}} {
		if ident, err := (ClaimMapping{}).identity(KindOIDC, c); err != nil || ident.AMR != nil {
			t.Fatalf("no usable amr %v: %v %v", c, ident, err)
		}
	}
	if ident, err := (ClaimMapping{}).identity(KindOAuth2, claims); err != nil || ident.AMR != nil {
		t.Fatalf("oauth2 userinfo added methods: %v %v", ident, err)
	}
}
