package clients

import "testing"

func TestHasRedirectURI(t *testing.T) {
	c := &Client{RedirectURIs: []string{
		"https://app.example.com/cb",
		"https://app.example.com/q?x=1",
		"http://127.0.0.1/native",
		"http://[::1]:8080/native6",
		"http://localhost:3000/dev",
		"com.example.app:/oauth2redirect",
		"http://127.0.0.2/native2",
		"http://127.255.255.254:1/edge",
	}}
	tests := []struct {
		name string
		uri  string
		want bool
	}{
		{"exact https", "https://app.example.com/cb", true},
		{"exact with query", "https://app.example.com/q?x=1", true},
		{"exact private-use", "com.example.app:/oauth2redirect", true},
		{"exact loopback", "http://127.0.0.1/native", true},
		{"trailing slash", "https://app.example.com/cb/", false},
		{"host case", "https://APP.example.com/cb", false},
		{"path case", "https://app.example.com/CB", false},
		{"scheme case", "HTTPS://app.example.com/cb", false},
		{"explicit default port", "https://app.example.com:443/cb", false},
		{"added query", "https://app.example.com/cb?x=1", false},
		{"changed query", "https://app.example.com/q?x=2", false},
		{"dropped query", "https://app.example.com/q", false},
		{"empty fragment", "https://app.example.com/cb#", false},
		{"percent-encoded path", "https://app.example.com/%63b", false},
		{"https port variance", "https://app.example.com:8443/cb", false},
		{"empty", "", false},
		{"127.0.0.1 any port", "http://127.0.0.1:51234/native", true},
		{"127.0.0.1 port 1", "http://127.0.0.1:1/native", true},
		{"127.0.0.1 port 65535", "http://127.0.0.1:65535/native", true},
		{"::1 other port", "http://[::1]:9/native6", true},
		{"::1 no port", "http://[::1]/native6", true},
		{"loopback port but other path", "http://127.0.0.1:5000/other", false},
		{"loopback port and trailing slash", "http://127.0.0.1:5000/native/", false},
		{"loopback port and query", "http://127.0.0.1:5000/native?x=1", false},
		{"loopback https", "https://127.0.0.1:5000/native", false},
		{"loopback other IP family", "http://[::1]:5000/native", false},
		{"loopback port zero", "http://127.0.0.1:0/native", false},
		{"loopback port too big", "http://127.0.0.1:65536/native", false},
		{"loopback port sign", "http://127.0.0.1:+80/native", false},
		{"loopback empty port", "http://127.0.0.1:/native", false},
		{"loopback userinfo trick", "http://127.0.0.1:80@evil.example/native", false},
		{"loopback subdomain trick", "http://127.0.0.1.evil.example/native", false},
		{"other loopback IP", "http://127.0.0.2:5000/native", false},
		// RFC 8252 §7.3: every address of 127.0.0.0/8 gets the port
		// exception, but the address itself must match exactly.
		{"127.0.0.2 exact", "http://127.0.0.2/native2", true},
		{"127.0.0.2 any port", "http://127.0.0.2:49152/native2", true},
		{"127.255.255.254 other port", "http://127.255.255.254:65535/edge", true},
		{"127.255.255.254 no port", "http://127.255.255.254/edge", true},
		{"127.0.0.2 registered, 127.0.0.1 presented", "http://127.0.0.1:5000/native2", false},
		{"127.0.0.1 registered, 127.0.0.3 presented", "http://127.0.0.3:5000/native", false},
		{"127.0.0.2 subdomain trick", "http://127.0.0.2.evil.example/native2", false},
		// Other spellings of a loopback address are not the registered
		// literal.
		{"short form", "http://127.1:5000/native", false},
		{"hex form", "http://0x7f.0.0.1:5000/native", false},
		{"octal form", "http://0177.0.0.1:5000/native", false},
		{"leading zeros", "http://127.000.0.1:5000/native", false},
		{"wildcard DNS", "http://127.0.0.1.nip.io:5000/native", false},
		{"IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]:5000/native", false},
		{"long form of ::1", "http://[0:0:0:0:0:0:0:1]:8080/native6", false},
		{"::1 with zone", "http://[::1%25lo]:8080/native6", false},
		{"localhost port variance", "http://localhost:4000/dev", false},
		{"localhost exact", "http://localhost:3000/dev", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.HasRedirectURI(tt.uri); got != tt.want {
				t.Errorf("HasRedirectURI(%q) = %v, want %v", tt.uri, got, tt.want)
			}
		})
	}
}

func TestHasPostLogoutRedirectURI(t *testing.T) {
	c := &Client{PostLogoutRedirectURIs: []string{"https://app.example.com/bye", "http://127.0.0.1/bye"}}
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://app.example.com/bye", true},
		{"https://app.example.com/bye/", false},
		{"https://app.example.com/bye?x=1", false},
		{"https://APP.example.com/bye", false},
		{"http://127.0.0.1/bye", true},
		// The loopback port exception is for redirect URIs only.
		{"http://127.0.0.1:5000/bye", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := c.HasPostLogoutRedirectURI(tt.uri); got != tt.want {
			t.Errorf("HasPostLogoutRedirectURI(%q) = %v, want %v", tt.uri, got, tt.want)
		}
	}
}

func TestAllowsGrantAndScope(t *testing.T) {
	c := &Client{GrantTypes: DefaultGrantTypes, Scopes: []string{"openid", "idp:admin"}}
	for g, want := range map[string]bool{
		GrantAuthorizationCode: true, GrantRefreshToken: true,
		GrantClientCredentials: false, "": false, "AUTHORIZATION_CODE": false,
	} {
		if got := c.AllowsGrant(g); got != want {
			t.Errorf("AllowsGrant(%q) = %v, want %v", g, got, want)
		}
	}
	for s, want := range map[string]bool{
		"openid": true, "idp:admin": true, "OpenID": false, "email": false, "": false,
	} {
		if got := c.AllowsScope(s); got != want {
			t.Errorf("AllowsScope(%q) = %v, want %v", s, got, want)
		}
	}
}
