package protocol

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"idp/clients"
	"idp/oauth"
)

// FuzzDeviceRequest checks the device authorization request parser
// (RFC 8628 §3.1) on any form body: it never panics, a refusal is one of
// the codes §3.2 allows, and what it accepts is only scopes the client may
// request, each once.
func FuzzDeviceRequest(f *testing.F) {
	for _, body := range []string{
		"", "scope=openid", "scope=openid+email+offline_access", "scope=openid%20openid", "scope=idp%3Aadmin",
		"scope=%22x%22", "scope=openid&scope=email", "scope=%00", "scope=+++", "client_id=tv&scope=profile",
	} {
		f.Add(body, true)
	}
	f.Add("scope=openid", false)
	f.Fuzz(func(t *testing.T, body string, allowed bool) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return // tokenForm refuses it before the parser runs
		}
		grants := []string{oauth.GrantDeviceCode}
		if !allowed {
			grants = []string{clients.GrantAuthorizationCode}
		}
		client := &clients.Client{ID: "tv", GrantTypes: grants, Scopes: []string{"openid", "email", "profile", "offline_access"}}
		scopes, e := deviceRequest(client, form)
		if e != nil {
			var oe *oauth.Error
			if !errors.As(e, &oe) || (oe.Code != "invalid_scope" && oe.Code != "unauthorized_client") {
				t.Fatalf("deviceRequest(%q) = %v", body, e)
			}
			if !allowed && oe.Code != "unauthorized_client" {
				t.Fatalf("a client without the grant got %s", oe.Code)
			}
			return
		}
		if !allowed {
			t.Fatalf("a client without the grant was accepted")
		}
		for i, sc := range scopes {
			if !client.AllowsScope(sc) || slices.Contains(scopes[:i], sc) {
				t.Fatalf("deviceRequest(%q) accepted %v", body, scopes)
			}
		}
	})
}
