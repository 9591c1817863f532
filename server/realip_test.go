package server_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"idp/clients"
	"idp/server"
	"idp/server/servertest"
)

// spoofing is a browser transport that claims, in X-Forwarded-For, to be
// forwarding for another address, and names a third in X-Real-IP.
type spoofing struct{ xff string }

func (s spoofing) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", s.xff)
	r.Header.Set("X-Real-IP", "198.51.100.9")
	return http.DefaultTransport.RoundTrip(r)
}

// The client address (throttling, audit, the session list) comes from
// X-Forwarded-For only when the TCP peer is a configured trusted proxy,
// and never from X-Real-IP: Echo's default extraction, which believes both
// from anyone (GO-2026-6872, GO-2026-6875), is never in use.
func TestClientAddressTrustsOnlyConfiguredProxies(t *testing.T) {
	cidr := func(s string) []*net.IPNet {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		return []*net.IPNet{n}
	}
	cases := []struct {
		name    string
		trusted []*net.IPNet
		want    string
	}{
		{"no proxies configured: the header is ignored", nil, "127.0.0.1"},
		{"peer is not a trusted proxy", cidr("10.0.0.0/8"), "127.0.0.1"},
		{"peer is a trusted proxy", cidr("127.0.0.1/32"), "203.0.113.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := servertest.New(t, func(c *server.Config) { c.TrustedProxies = tc.trusted })
			user := env.CreateUser(t, testEmail, testPassword)
			app := newRP(t, env, clients.Spec{ID: "app", Trusted: true})
			b := env.Browser(t)
			b.Transport = spoofing{xff: "203.0.113.7"}
			env.Authorize(t, b, app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), testEmail, testPassword)
			list, err := env.Sessions.List(context.Background(), user.ID)
			if err != nil || len(list) != 1 {
				t.Fatalf("sessions: %+v, %v", list, err)
			}
			if list[0].IP != tc.want {
				t.Errorf("session address %q, want %q", list[0].IP, tc.want)
			}
		})
	}
}
