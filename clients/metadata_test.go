package clients

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"idp/db"
)

var pngLogo = "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n not really"))

func TestValidateLogoURI(t *testing.T) {
	ok := []string{"https://cdn.example.com/logo.png", pngLogo, "data:image/svg+xml;base64,PHN2Zy8+",
		"http://localhost:3000/logo.png"}
	for _, u := range ok {
		if err := ValidateLogoURI(u); err != nil {
			t.Errorf("%.60s: %v", u, err)
		}
	}
	bad := []string{"http://cdn.example.com/logo.png", "javascript:alert(1)", "data:text/html;base64,PGI+",
		"data:image/png,rawbytes", "data:image/png;base64,!!!", "data:image/png;base64,",
		"data:image/png;base64," + strings.Repeat("A", MaxLogoDataURI), "/logo.png", "https://user:pw@cdn.example/x.png",
		"https://cdn.example.com/a b.png", "ftp://cdn.example.com/logo.png"}
	for _, u := range bad {
		if err := ValidateLogoURI(u); err == nil {
			t.Errorf("%.60s accepted", u)
		}
	}
}

// TestMetadataRefusals: each bad field is refused at registration with a
// reason, and nothing is stored.
func TestMetadataRefusals(t *testing.T) {
	svc, d := newService(t)
	base := func() Spec { return Spec{ID: "app", RedirectURIs: []string{goodRedirect}} }
	cases := []struct {
		name   string
		change func(*Spec)
		says   string
	}{
		{"http logo", func(s *Spec) { s.LogoURI = "http://cdn.example.com/l.png" }, "https"},
		{"huge logo", func(s *Spec) { s.LogoURI = "data:image/png;base64," + strings.Repeat("A", MaxLogoDataURI) }, "limit"},
		{"javascript policy", func(s *Spec) { s.PolicyURI = "javascript:alert(1)" }, "policy URI"},
		{"relative terms", func(s *Spec) { s.TOSURI = "/terms" }, "terms of service URI"},
		{"data client URI", func(s *Spec) { s.ClientURI = "data:text/html;base64,PGI+" }, "client URI"},
		{"contact with a name", func(s *Spec) { s.Contacts = []string{"Ops <ops@example.com>"} }, "contact"},
		{"contact with CRLF", func(s *Spec) { s.Contacts = []string{"ops@example.com\r\nBcc: x@evil.example"} }, "contact"},
		{"too many contacts", func(s *Spec) {
			for i := range 11 {
				s.Contacts = append(s.Contacts, strings.Repeat("a", i+1)+"@example.com")
			}
		}, "at most 10"},
		{"unknown application type", func(s *Spec) { s.ApplicationType = "desktop" }, "web or native"},
		{"web client with a private-use scheme", func(s *Spec) {
			s.ApplicationType = AppWeb
			s.RedirectURIs = []string{"com.example.app:/cb"}
		}, "private-use"},
		{"unknown auth method", func(s *Spec) { s.TokenEndpointAuthMethod = "tls_client_auth" }, "not supported"},
		{"private_key_jwt without keys", func(s *Spec) { s.TokenEndpointAuthMethod = AuthPrivateKeyJWT }, "needs the client's public keys"},
		{"jwks without private_key_jwt", func(s *Spec) { s.JWKS = `{"keys":[]}` }, "only with"},
		{"jwks and jwks_uri", func(s *Spec) {
			s.TokenEndpointAuthMethod = AuthPrivateKeyJWT
			s.JWKS = `{"keys":[]}`
			s.JWKSURI = "https://a.example/jwks"
		}, "not both"},
		{"bad jwks", func(s *Spec) { s.TokenEndpointAuthMethod = AuthPrivateKeyJWT; s.JWKS = `{"keys":[]}` }, "1 to 20 keys"},
		{"http jwks_uri", func(s *Spec) { s.TokenEndpointAuthMethod = AuthPrivateKeyJWT; s.JWKSURI = "http://a.example/jwks" }, "https"},
		{"none for a confidential client", func(s *Spec) { s.TokenEndpointAuthMethod = AuthNone }, "public clients"},
		{"secret method for a public client", func(s *Spec) {
			s.Public = true
			s.TokenEndpointAuthMethod = AuthSecretPost
		}, "no secret"},
		{"negative default max age", func(s *Spec) { s.DefaultMaxAge = -1 }, "default max age"},
		{"default max age over a year", func(s *Spec) { s.DefaultMaxAge = 400 * 24 * 3600 }, "default max age"},
		{"name with a newline", func(s *Spec) { s.Name = "App\nEvil" }, "name"},
		{"name too long", func(s *Spec) { s.Name = strings.Repeat("n", 101) }, "name"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			spec := base()
			tt.change(&spec)
			_, _, err := svc.Create(t.Context(), spec)
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Create: %v, want ErrInvalidSpec saying %q", err, tt.says)
			}
			if n := countClients(t, d); n != 0 {
				t.Fatalf("%d rows written", n)
			}
		})
	}
}

// TestMetadataRoundTripAndDefaults: every field is stored and read back;
// a private-use redirect without an application type makes a native
// client, as every older registration is read.
func TestMetadataRoundTripAndDefaults(t *testing.T) {
	svc, _ := newService(t)
	m := Metadata{LogoURI: pngLogo, ClientURI: "https://app.example.com", PolicyURI: "https://app.example.com/privacy",
		TOSURI: "https://app.example.com/terms", Contacts: []string{"ops@example.com", "dev@example.com", "ops@example.com"},
		ApplicationType: AppWeb, TokenEndpointAuthMethod: AuthSecretPost, DefaultMaxAge: 3600, RequireAuthTime: true}
	c, _, err := svc.Create(t.Context(), Spec{ID: "app", Name: "Acme Notes", RedirectURIs: []string{goodRedirect}, Metadata: m})
	if err != nil {
		t.Fatal(err)
	}
	m.Contacts = []string{"ops@example.com", "dev@example.com"}
	if !reflect.DeepEqual(c.Metadata, m) {
		t.Fatalf("created %+v, want %+v", c.Metadata, m)
	}
	got, err := svc.Store().ByID(t.Context(), "app")
	if err != nil || !reflect.DeepEqual(got.Metadata, m) {
		t.Fatalf("read back %+v, %v", got.Metadata, err)
	}
	if got.AuthMethod() != AuthSecretPost || got.AcceptsAuthMethod(AuthSecretBasic) || !got.AcceptsAuthMethod(AuthSecretPost) {
		t.Fatalf("auth method %q", got.AuthMethod())
	}
	native, _, err := svc.Create(t.Context(), Spec{ID: "mobile", Public: true, RedirectURIs: []string{"com.example.app:/cb"}})
	if err != nil || native.ApplicationType != AppNative || native.AuthMethod() != AuthNone {
		t.Fatalf("private-use redirect: %+v, %v", native, err)
	}
	old, _, err := svc.Create(t.Context(), Spec{ID: "old", RedirectURIs: []string{goodRedirect}})
	if err != nil || old.ApplicationType != AppWeb || old.AuthMethod() != AuthSecretBasic ||
		!old.AcceptsAuthMethod(AuthSecretPost) || old.AcceptsAuthMethod(AuthNone) {
		t.Fatalf("default: %+v, %v", old, err)
	}
}

func TestUpdate(t *testing.T) {
	svc, d := newService(t)
	ctx := t.Context()
	c, secret, err := svc.Create(ctx, Spec{ID: "app", Name: "App", RedirectURIs: []string{goodRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	spec := SpecOf(c)
	spec.Name, spec.LogoURI, spec.RedirectURIs = "Acme Notes", "https://cdn.example.com/l.png", []string{goodRedirect, goodRedirect + "2"}
	up, err := svc.Update(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "Acme Notes" || up.LogoURI == "" || len(up.RedirectURIs) != 2 || !up.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("updated %+v", up)
	}
	if _, err := svc.Authenticate(ctx, "app", secret); err != nil {
		t.Fatalf("the update changed the secret: %v", err)
	}
	before := rowBytes(t, d, "app")
	for name, change := range map[string]func(*Spec){
		"bad logo":           func(s *Spec) { s.LogoURI = "javascript:x" },
		"becomes public":     func(s *Spec) { s.Public = true },
		"sets a secret":      func(s *Spec) { s.Secret = strings.Repeat("s", 40) },
		"drops its redirect": func(s *Spec) { s.RedirectURIs = nil },
	} {
		s := SpecOf(up)
		change(&s)
		if _, err := svc.Update(ctx, s); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: %v, want ErrInvalidSpec", name, err)
		}
	}
	if after := rowBytes(t, d, "app"); string(after) != string(before) {
		t.Fatal("a refused update changed the row")
	}
	if _, err := svc.Update(ctx, Spec{ID: "ghost", RedirectURIs: []string{goodRedirect}}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
}

func TestRegenerateSecret(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	if _, _, err := svc.Create(ctx, Spec{ID: "app", RedirectURIs: []string{goodRedirect}}); err != nil {
		t.Fatal(err)
	}
	_, old, _ := svc.Create(ctx, Spec{ID: "app2", RedirectURIs: []string{goodRedirect}})
	fresh, err := svc.RegenerateSecret(ctx, "app2")
	if err != nil || len(fresh) != 43 || fresh == old {
		t.Fatalf("RegenerateSecret: %q, %v", fresh, err)
	}
	if _, err := svc.Authenticate(ctx, "app2", old); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("the old secret still works: %v", err)
	}
	if _, err := svc.Authenticate(ctx, "app2", fresh); err != nil {
		t.Fatalf("the new secret: %v", err)
	}
	if _, _, err := svc.Create(ctx, Spec{ID: "spa", Public: true, RedirectURIs: []string{goodRedirect}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegenerateSecret(ctx, "spa"); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("public client: %v", err)
	}
	if _, err := svc.RegenerateSecret(ctx, "ghost"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
}
