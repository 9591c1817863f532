package clients

import (
	"net/url"
	"strings"
	"testing"
)

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri     string
		wantErr string // substring; "" means valid
	}{
		{"https://app.example.com/cb", ""},
		{"https://app.example.com:8443/cb?x=1", ""},
		{"https://app.example.com", ""},
		{"http://localhost:3000/cb", ""},
		{"http://LOCALHOST/cb", ""},
		{"http://127.0.0.1/cb", ""},
		{"http://127.0.0.1:8080/cb", ""},
		{"http://[::1]:8080/cb", ""},
		// RFC 8252 §7.3: any address of 127.0.0.0/8 is loopback.
		{"http://127.0.0.2/cb", ""},
		{"http://127.255.255.254:8080/cb", ""},
		{"http://127.0.0.1?x=1", ""},
		{"com.example.app:/oauth2redirect/example-provider", ""},
		{"com.example.app://cb", ""},
		{"com.example.app:cb", ""},

		{"", "must not be empty"},
		{"/cb", "must be absolute"},
		{"cb", "must be absolute"},
		{"//app.example.com/cb", "must be absolute"},
		{"https://app.example.com/cb#frag", "must not contain a fragment"},
		{"https://app.example.com/cb#", "must not contain a fragment"},
		{"http://app.example.com/cb", "http is allowed only for"},
		{"http://localhost.evil.example/cb", "http is allowed only for"},
		// Only canonical dotted decimal: other spellings some resolvers
		// read as 127.0.0.1, a host under a wildcard-DNS name, and
		// IPv4-mapped or long forms of ::1 are not loopback literals.
		{"http://127.1/cb", "http is allowed only for"},
		{"http://0x7f.0.0.1/cb", "http is allowed only for"},
		{"http://0177.0.0.1/cb", "http is allowed only for"},
		{"http://127.000.0.1/cb", "http is allowed only for"},
		{"http://2130706433/cb", "http is allowed only for"},
		{"http://127.0.0.256/cb", "http is allowed only for"},
		{"http://127.0.0.1.nip.io/cb", "http is allowed only for"},
		{"http://[::ffff:127.0.0.1]/cb", "http is allowed only for"},
		{"http://[0:0:0:0:0:0:0:1]/cb", "http is allowed only for"},
		{"http://[::1%25lo]/cb", "http is allowed only for"},
		{"http://128.0.0.1/cb", "http is allowed only for"},
		{"http://0.0.0.0/cb", "http is allowed only for"},
		{"http://10.0.0.1/cb", "http is allowed only for"},
		{"https://user:pass@app.example.com/cb", "must not contain userinfo"},
		{"https://user@app.example.com/cb", "must not contain userinfo"},
		{"http://user@127.0.0.1/cb", "must not contain userinfo"},
		{"https:///cb", "must have a host"},
		{"https:cb", "must have a host"},
		{"https://:443/cb", "must have a host"},
		{"javascript:alert(1)", `scheme "javascript" is not allowed`},
		{"data:text/html,hi", `scheme "data" is not allowed`},
		{"file:///etc/passwd", `scheme "file" is not allowed`},
		{"myapp:/cb", `scheme "myapp" is not allowed`},
		{"com.example.app:", "must have a path"},
		{"https://app.example.com/c b", "must not contain spaces"},
		{"https://app.example.com/cb\n", "must not contain spaces"},
		{"https://app.example.com/%zz", "is not a valid URI"},
		{"https://[::1/cb", "is not a valid URI"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			err := ValidateRedirectURI(tt.uri)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ValidateRedirectURI(%q) = %v, want nil", tt.uri, err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("ValidateRedirectURI(%q) = nil, want error containing %q", tt.uri, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("ValidateRedirectURI(%q) = %q, want it to contain %q", tt.uri, err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("ValidateRedirectURI(%q): error is not one line: %q", tt.uri, err)
			}
		})
	}
}

func TestValidateRedirectURIMessage(t *testing.T) {
	err := ValidateRedirectURI("x")
	if err == nil || err.Error() != `redirect URI "x" must be absolute` {
		t.Fatalf("got %v", err)
	}
}

func TestValidateID(t *testing.T) {
	tests := []struct {
		id    string
		valid bool
	}{
		{"a", true},
		{"my-app", true},
		{"My_App.v2~beta", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"has space", false},
		{"colon:id", false},
		{"slash/id", false},
		{"percent%20", false},
		{"plus+id", false},
		{"ünïcode", false},
		{"nul\x00", false},
	}
	for _, tt := range tests {
		if err := ValidateID(tt.id); (err == nil) != tt.valid {
			t.Errorf("ValidateID(%q) = %v, want valid=%v", tt.id, err, tt.valid)
		}
	}
}

func TestScopeTokenValid(t *testing.T) {
	for s, want := range map[string]bool{
		"openid": true, "idp:admin": true, "a!#[]^~": true,
		"": false, "two words": false, `quo"te`: false, `back\slash`: false,
		"tab\t": false, "del\x7f": false, "é": false,
	} {
		if got := scopeTokenValid(s); got != want {
			t.Errorf("scopeTokenValid(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzValidateRedirectURI checks that the validator never panics and that
// whatever it accepts is an absolute URI without a fragment or userinfo,
// and that a client registering it never matches a URI that would itself
// be refused.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb",
		"com.example.app:/cb", "https://app.example.com/cb#x", "/relative",
		"http://user@127.0.0.1/cb", "javascript:alert(1)", "https://[::1/cb", "",
		"http://127.0.0.1:80@evil.example/cb", "http://127.0.0.2/cb", "http://127.1/cb",
	} {
		f.Add(s, "http://127.0.0.1:5000/cb")
	}
	f.Fuzz(func(t *testing.T, uri, candidate string) {
		if err := ValidateRedirectURI(uri); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q: %q", uri, err)
			}
			return
		}
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("accepted %q but url.Parse fails: %v", uri, err)
		}
		if !u.IsAbs() || strings.Contains(uri, "#") || u.User != nil {
			t.Fatalf("accepted %q: not absolute, or has a fragment or userinfo", uri)
		}
		c := &Client{RedirectURIs: []string{uri}}
		if c.HasRedirectURI(candidate) && candidate != uri {
			if err := ValidateRedirectURI(candidate); err != nil {
				t.Fatalf("registered %q matched invalid %q: %v", uri, candidate, err)
			}
			if !strings.HasPrefix(candidate, "http://127.") && !strings.HasPrefix(candidate, "http://[::1]") {
				t.Fatalf("registered %q matched non-loopback %q", uri, candidate)
			}
		}
	})
}
