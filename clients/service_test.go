package clients

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/db"
)

const goodRedirect = "https://app.example.com/cb"

func TestCreateDefaults(t *testing.T) {
	svc, _ := newService(t)
	c, secret, err := svc.Create(t.Context(), Spec{ID: "app", Name: "App", RedirectURIs: []string{goodRedirect}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != 32 {
		t.Fatalf("generated secret %q: want 32 bytes base64url without padding (err %v)", secret, err)
	}
	want := &Client{
		ID: "app", Name: "App", SecretHash: svc.HashSecret(secret),
		RedirectURIs: []string{goodRedirect}, PostLogoutRedirectURIs: []string{},
		GrantTypes: DefaultGrantTypes, Scopes: DefaultScopes, SigningAlg: "RS256", Metadata: Metadata{ApplicationType: AppWeb},
		CreatedAt: testNow.Truncate(time.Microsecond), UpdatedAt: testNow.Truncate(time.Microsecond),
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Create returned\n%+v\nwant\n%+v", c, want)
	}
	got, err := svc.Store().ByID(t.Context(), "app")
	if err != nil {
		t.Fatalf("ByID: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored\n%+v\nwant\n%+v", got, want)
	}
	// The defaults must be copies: changing a client must not change them.
	c.Scopes[0] = "changed"
	if DefaultScopes[0] != "openid" {
		t.Fatal("Create aliased DefaultScopes")
	}
}

func TestCreateVariants(t *testing.T) {
	longSecret := strings.Repeat("s", 32)
	tests := []struct {
		name       string
		spec       Spec
		wantSecret bool // a generated secret is returned
		check      func(t *testing.T, c *Client)
	}{
		{
			name: "public",
			spec: Spec{ID: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}},
			check: func(t *testing.T, c *Client) {
				if !c.Public || c.SecretHash != nil {
					t.Errorf("public client: Public=%v SecretHash=%x", c.Public, c.SecretHash)
				}
			},
		},
		{
			name: "given secret is not echoed",
			spec: Spec{ID: "given", Secret: longSecret, RedirectURIs: []string{goodRedirect}},
		},
		{
			name:       "client credentials needs no redirect URI",
			spec:       Spec{ID: "svc", GrantTypes: []string{GrantClientCredentials}},
			wantSecret: true,
			check: func(t *testing.T, c *Client) {
				if !reflect.DeepEqual(c.GrantTypes, []string{GrantClientCredentials}) || len(c.RedirectURIs) != 0 {
					t.Errorf("grants %v redirects %v", c.GrantTypes, c.RedirectURIs)
				}
			},
		},
		{
			name: "duplicates removed, order kept",
			spec: Spec{
				ID:                     "dups",
				RedirectURIs:           []string{goodRedirect, "com.example.app:/cb", goodRedirect},
				PostLogoutRedirectURIs: []string{"https://app.example.com/bye", "https://app.example.com/bye"},
				GrantTypes:             []string{GrantRefreshToken, GrantAuthorizationCode, GrantRefreshToken},
				Scopes:                 []string{"openid", "idp:admin", "openid"},
				SigningAlg:             "ES256",
				Trusted:                true,
			},
			wantSecret: true,
			check: func(t *testing.T, c *Client) {
				want := &Client{
					RedirectURIs:           []string{goodRedirect, "com.example.app:/cb"},
					PostLogoutRedirectURIs: []string{"https://app.example.com/bye"},
					GrantTypes:             []string{GrantRefreshToken, GrantAuthorizationCode},
					Scopes:                 []string{"openid", "idp:admin"},
				}
				if !reflect.DeepEqual(c.RedirectURIs, want.RedirectURIs) ||
					!reflect.DeepEqual(c.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) ||
					!reflect.DeepEqual(c.GrantTypes, want.GrantTypes) ||
					!reflect.DeepEqual(c.Scopes, want.Scopes) {
					t.Errorf("got %+v", c)
				}
				if c.SigningAlg != "ES256" || !c.Trusted {
					t.Errorf("alg %q trusted %v", c.SigningAlg, c.Trusted)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := newService(t)
			c, secret, err := svc.Create(t.Context(), tt.spec)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if (secret != "") != tt.wantSecret {
				t.Errorf("returned secret %q, want generated=%v", secret, tt.wantSecret)
			}
			got, err := svc.Store().ByID(t.Context(), tt.spec.ID)
			if err != nil {
				t.Fatalf("ByID: %v", err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("stored %+v\nreturned %+v", got, c)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestCreateRejects(t *testing.T) {
	ok := Spec{ID: "app", RedirectURIs: []string{goodRedirect}}
	with := func(f func(*Spec)) Spec { s := ok; f(&s); return s }
	tests := []struct {
		name string
		spec Spec
		want []string // substrings, one per expected problem
	}{
		{"empty id", with(func(s *Spec) { s.ID = "" }), []string{"client id must not be empty"}},
		{"id with space", with(func(s *Spec) { s.ID = "my app" }), []string{`client id "my app" may contain only`}},
		{"id too long", with(func(s *Spec) { s.ID = strings.Repeat("a", 129) }), []string{"at most 128"}},
		{"no redirect URI", with(func(s *Spec) { s.RedirectURIs = nil }), []string{"at least one redirect URI is required"}},
		{"empty redirect URI", with(func(s *Spec) { s.RedirectURIs = []string{""} }), []string{"redirect URI must not be empty"}},
		{"relative redirect URI", with(func(s *Spec) { s.RedirectURIs = []string{"/cb"} }), []string{`redirect URI "/cb" must be absolute`}},
		{"fragment", with(func(s *Spec) { s.RedirectURIs = []string{"https://app.example.com/cb#x"} }), []string{"must not contain a fragment"}},
		{"http non-loopback", with(func(s *Spec) { s.RedirectURIs = []string{"http://app.example.com/cb"} }), []string{"http is allowed only for"}},
		{"userinfo", with(func(s *Spec) { s.RedirectURIs = []string{"https://u:p@app.example.com/cb"} }), []string{"must not contain userinfo"}},
		{"one bad among good", with(func(s *Spec) { s.RedirectURIs = []string{goodRedirect, "javascript:alert(1)"} }), []string{`scheme "javascript" is not allowed`}},
		{"bad post-logout URI", with(func(s *Spec) { s.PostLogoutRedirectURIs = []string{"http://evil.example/bye"} }), []string{"post-logout redirect URI"}},
		{"short secret", with(func(s *Spec) { s.Secret = strings.Repeat("s", 31) }), []string{"at least 32 bytes, got 31"}},
		{"unknown alg", with(func(s *Spec) { s.SigningAlg = "HS256" }), []string{`signing alg "HS256" is not supported`}},
		{"alg none", with(func(s *Spec) { s.SigningAlg = "none" }), []string{`signing alg "none"`}},
		{"alg wrong case", with(func(s *Spec) { s.SigningAlg = "rs256" }), []string{`signing alg "rs256"`}},
		{"unknown grant", with(func(s *Spec) { s.GrantTypes = []string{GrantAuthorizationCode, "password"} }), []string{`grant type "password" is not supported`}},
		{"implicit grant", with(func(s *Spec) { s.GrantTypes = []string{"implicit"} }), []string{`grant type "implicit"`}},
		{"refresh without code", with(func(s *Spec) { s.GrantTypes = []string{GrantRefreshToken, GrantClientCredentials} }), []string{"refresh_token requires authorization_code"}},
		{"public with secret", with(func(s *Spec) { s.Public = true; s.Secret = strings.Repeat("s", 40) }), []string{"public clients must not have a secret"}},
		{"public client credentials", with(func(s *Spec) {
			s.Public = true
			s.GrantTypes = []string{GrantAuthorizationCode, GrantClientCredentials}
		}), []string{"public clients cannot use the client_credentials grant"}},
		{"bad scope", with(func(s *Spec) { s.Scopes = []string{"openid", "two words", `q"uote`, ""} }), []string{`scope "two words"`, `scope "q\"uote"`, `scope ""`}},
		{
			"every problem at once",
			Spec{ID: "bad id", Public: true, Secret: "x", RedirectURIs: []string{"/cb", "http://x.example/cb"},
				GrantTypes: []string{"password", GrantClientCredentials}, SigningAlg: "PS256", Scopes: []string{"a b"}},
			[]string{"client id", "must be absolute", "http is allowed only", `grant type "password"`,
				"client_credentials grant", "must not have a secret", `signing alg "PS256"`, `scope "a b"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, d := newService(t)
			c, secret, err := svc.Create(t.Context(), tt.spec)
			if err == nil {
				t.Fatalf("Create succeeded (%+v), want errors %q", c, tt.want)
			}
			if c != nil || secret != "" {
				t.Errorf("Create returned client %v and secret %q with an error", c, secret)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if n := countClients(t, d); n != 0 {
				t.Errorf("%d rows written after a failed Create", n)
			}
		})
	}
}

func TestCreateDuplicateID(t *testing.T) {
	svc, d := newService(t)
	first := Spec{ID: "app", Name: "first", RedirectURIs: []string{goodRedirect}}
	if _, _, err := svc.Create(t.Context(), first); err != nil {
		t.Fatalf("first Create: %v", err)
	}
	second := Spec{ID: "app", Name: "second", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}}
	_, secret, err := svc.Create(t.Context(), second)
	if !errors.Is(err, ErrClientExists) || !errors.Is(err, db.ErrConflict) {
		t.Fatalf("second Create: %v, want ErrClientExists and db.ErrConflict", err)
	}
	if secret != "" {
		t.Errorf("secret %q returned with an error", secret)
	}
	if n := countClients(t, d); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	c, err := svc.Store().ByID(t.Context(), "app")
	if err != nil || c.Name != "first" || c.Public {
		t.Fatalf("first client changed: %+v, %v", c, err)
	}
}

// TestCreateConcurrentSameID races registrations of one id: the primary
// key, not a check-then-insert, decides, so exactly one wins.
func TestCreateConcurrentSameID(t *testing.T) {
	svc, d := newService(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = svc.Create(t.Context(), Spec{ID: "race", Name: fmt.Sprint(i), RedirectURIs: []string{goodRedirect}})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrClientExists):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creates succeeded, want 1", wins)
	}
	if c := countClients(t, d); c != 1 {
		t.Fatalf("%d rows, want 1", c)
	}
}

func TestSecretNeverStoredInClear(t *testing.T) {
	svc, d := newService(t)
	given := "given-secret-0123456789abcdefghijklmnop"
	_, generated, err := svc.Create(t.Context(), Spec{ID: "gen", RedirectURIs: []string{goodRedirect}})
	if err != nil {
		t.Fatalf("Create gen: %v", err)
	}
	if _, _, err := svc.Create(t.Context(), Spec{ID: "given", Secret: given, RedirectURIs: []string{goodRedirect}}); err != nil {
		t.Fatalf("Create given: %v", err)
	}
	for id, secret := range map[string]string{"gen": generated, "given": given} {
		row := rowBytes(t, d, id)
		if bytes.Contains(row, []byte(secret)) {
			t.Errorf("client %q: secret found in clear in its row", id)
		}
		if !bytes.Contains(row, svc.HashSecret(secret)) {
			t.Errorf("client %q: HMAC of the secret not found in its row", id)
		}
		if files := sqliteFiles(t, d); bytes.Contains(files, []byte(secret)) {
			t.Errorf("client %q: secret found in clear in the SQLite files", id)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	svc, _ := newService(t)
	_, secret, err := svc.Create(t.Context(), Spec{ID: "app", RedirectURIs: []string{goodRedirect}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, _, err := svc.Create(t.Context(), Spec{ID: "spa", Public: true, RedirectURIs: []string{goodRedirect}}); err != nil {
		t.Fatalf("Create public: %v", err)
	}
	tests := []struct {
		name, id, secret string
		ok               bool
	}{
		{"good", "app", secret, true},
		{"wrong secret", "app", secret[:len(secret)-1] + "x", false},
		{"secret prefix", "app", secret[:len(secret)-1], false},
		{"secret with newline", "app", secret + "\n", false},
		{"empty secret", "app", "", false},
		{"id case differs", "APP", secret, false},
		{"unknown id", "nobody", secret, false},
		{"empty id", "", "", false},
		{"public, no secret", "spa", "", false},
		{"public, some secret", "spa", secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := svc.Authenticate(t.Context(), tt.id, tt.secret)
			if tt.ok {
				if err != nil || c == nil || c.ID != tt.id {
					t.Fatalf("Authenticate = %v, %v; want client %q", c, err, tt.id)
				}
				return
			}
			if !errors.Is(err, ErrInvalidClient) || c != nil {
				t.Fatalf("Authenticate = %v, %v; want ErrInvalidClient", c, err)
			}
		})
	}
}

// TestAuthenticatePepper shows the stored hash is keyed: the right secret
// fails under another pepper, so a database dump alone is not enough.
func TestAuthenticatePepper(t *testing.T) {
	svc, d := newService(t)
	_, secret, err := svc.Create(t.Context(), Spec{ID: "app", RedirectURIs: []string{goodRedirect}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	other := NewService(NewStore(d.Gorm), bytes.Repeat([]byte{7}, 32), nil)
	if _, err := other.Authenticate(t.Context(), "app", secret); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("Authenticate under another pepper: %v, want ErrInvalidClient", err)
	}
}

func TestNewServiceRejectsBadPepper(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewService with a %d-byte pepper did not panic", n)
				}
			}()
			NewService(nil, make([]byte, n), nil)
		}()
	}
}

// TestHashSecretIsHMAC: the pooled, reset HMAC states give exactly
// HMAC-SHA256(pepper, secret) for every secret, one after another and from
// many goroutines at once.
func TestHashSecretIsHMAC(t *testing.T) {
	svc, _ := newService(t)
	want := func(secret string) []byte {
		m := hmac.New(sha256.New, svc.pepper)
		m.Write([]byte(secret))
		return m.Sum(nil)
	}
	for i := range 50 {
		secret := strings.Repeat("s", i)
		if got := svc.HashSecret(secret); !bytes.Equal(got, want(secret)) {
			t.Fatalf("HashSecret(%q) = %x, want %x", secret, got, want(secret))
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				secret := fmt.Sprintf("secret-%d-%d", g, i)
				if got := svc.HashSecret(secret); !bytes.Equal(got, want(secret)) {
					t.Errorf("concurrent HashSecret(%q) = %x", secret, got)
					return
				}
			}
		})
	}
	wg.Wait()
}
