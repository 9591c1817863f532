package clients

import (
	"strings"
	"testing"
)

// TestDeviceGrantAccepted: the device grant (RFC 8628) works for public
// and confidential clients, with or without redirect URIs, and carries
// refresh_token on its own.
func TestDeviceGrantAccepted(t *testing.T) {
	for _, spec := range []Spec{
		{ID: "tv", Public: true, GrantTypes: []string{GrantDeviceCode}},
		{ID: "tv", Public: true, GrantTypes: []string{GrantDeviceCode, GrantRefreshToken}},
		{ID: "tv", GrantTypes: []string{GrantDeviceCode, GrantRefreshToken, GrantClientCredentials}},
		{ID: "tv", RedirectURIs: []string{"https://app.example/cb"},
			GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode}},
	} {
		c, err := build(spec)
		if err != nil {
			t.Fatalf("%v: %v", spec.GrantTypes, err)
		}
		if !c.AllowsGrant(GrantDeviceCode) {
			t.Fatalf("%v: device grant not allowed", spec.GrantTypes)
		}
	}
	_, err := build(Spec{ID: "tv", GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device"}})
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("a misspelt grant type was accepted: %v", err)
	}
}
