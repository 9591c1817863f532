package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	st := byState(mustList(t, m))
	for _, alg := range Algs {
		for _, typ := range []string{"JWT", "at+jwt", ""} {
			payload := []byte(`{"sub":"u1","alg-under-test":"` + alg + `"}`)
			tok, err := m.Sign(ctx, alg, payload, typ)
			if err != nil {
				t.Fatalf("Sign %s: %v", alg, err)
			}
			hdr := decodeHeader(t, tok)
			wantKID := st[[2]string{alg, StateActive}].KID
			if hdr["alg"] != alg || hdr["kid"] != wantKID {
				t.Fatalf("%s header %v, want alg %s kid %s", alg, hdr, alg, wantKID)
			}
			if got, ok := hdr["typ"]; (typ == "" && ok) || (typ != "" && got != typ) {
				t.Fatalf("%s header typ %v, want %q", alg, got, typ)
			}
			got, kid, err := m.Verify(ctx, tok)
			if err != nil || kid != wantKID || string(got) != string(payload) {
				t.Fatalf("Verify %s: %q %s %v", alg, got, kid, err)
			}
		}
	}
	if _, err := m.Sign(ctx, "HS256", []byte("{}"), "JWT"); err == nil {
		t.Fatal("Sign with HS256 succeeded")
	}
}

func decodeHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// forge builds a compact JWS with an arbitrary header and signature.
func forge(header map[string]any, payload string, sign func(input string) []byte) string {
	h, _ := json.Marshal(header)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

func TestVerifyRefuses(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	ctx := context.Background()
	st := byState(mustList(t, m))
	rsKID, esKID := st[[2]string{RS256, StateActive}].KID, st[[2]string{ES256, StateActive}].KID
	var rsPublic string
	if err := e.db.Gorm.Raw("SELECT public_jwk FROM signing_keys WHERE kid = ?", rsKID).Row().Scan(&rsPublic); err != nil {
		t.Fatal(err)
	}
	good, err := m.Sign(ctx, RS256, []byte(`{"sub":"u1"}`), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signStranger := func(kid string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256,
			Key: jose.JSONWebKey{Key: stranger, KeyID: kid}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := s.Sign([]byte(`{"sub":"admin"}`))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := obj.CompactSerialize()
		return tok
	}
	parts := strings.Split(good, ".")

	cases := map[string]string{
		// RS256 → HS256 confusion: HMAC keyed with the public key.
		"alg HS256": forge(map[string]any{"alg": "HS256", "kid": rsKID}, `{"sub":"admin"}`, func(in string) []byte {
			mac := hmac.New(sha256.New, []byte(rsPublic))
			mac.Write([]byte(in))
			return mac.Sum(nil)
		}),
		"alg none":       forge(map[string]any{"alg": "none", "kid": rsKID}, `{"sub":"admin"}`, func(string) []byte { return nil }),
		"alg mismatch":   forge(map[string]any{"alg": "ES256", "kid": rsKID}, `{"sub":"admin"}`, func(string) []byte { return make([]byte, 64) }),
		"unknown key":    signStranger("unknown-kid"),
		"borrowed kid":   signStranger(esKID),
		"no kid":         forge(map[string]any{"alg": "RS256"}, `{}`, func(string) []byte { return []byte("x") }),
		"payload edited": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2],
		"two parts":      parts[0] + "." + parts[1],
		"JSON form":      `{"payload":"e30","signatures":[]}`,
		"garbage header": "!!!." + parts[1] + "." + parts[2],
		"empty":          "",
	}
	for name, tok := range cases {
		if payload, kid, err := m.Verify(ctx, tok); err == nil {
			t.Errorf("%s: verified (kid %s, payload %s)", name, kid, payload)
		}
	}
	if _, _, err := m.Verify(ctx, cases["unknown key"]); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: %v, want ErrUnknownKey", err)
	}
	if _, _, err := m.Verify(ctx, good); err != nil {
		t.Fatalf("control token: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	e := newEnv(f)
	m := e.bootstrapped()
	good, err := m.Sign(context.Background(), ES256, []byte(`{}`), "JWT")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		payload, _, err := m.Verify(context.Background(), tok)
		if err == nil && tok != good {
			t.Fatalf("forged token verified: %q -> %q", tok, payload)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	e := newEnv(b)
	m := e.bootstrapped()
	ctx := context.Background()
	payload := []byte(`{"iss":"https://idp.example","sub":"6f1c2a","aud":"client","exp":1900000000,"iat":1899999400}`)
	for _, alg := range Algs {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Sign(ctx, alg, payload, "at+jwt"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	e := newEnv(b)
	m := e.bootstrapped()
	ctx := context.Background()
	for _, alg := range Algs {
		tok, err := m.Sign(ctx, alg, []byte(`{"sub":"x"}`), "JWT")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := m.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCompactSignRefuses: the hand-built header never carries characters
// that would need escaping, and a key never signs under another alg.
func TestCompactSignRefuses(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		alg, kid, typ string
		key           any
	}{
		"quote in typ":     {ES256, "k", `at+jwt","alg":"none`, ec},
		"backslash in kid": {ES256, `k\`, "JWT", ec},
		"EC key as RS256":  {RS256, "k", "JWT", ec},
		"P-384 as ES256":   {ES256, "k", "JWT", p384},
		"unknown key type": {ES256, "k", "JWT", []byte("secret")},
	} {
		if tok, err := compactSign(tc.alg, tc.kid, tc.typ, tc.key, []byte(`{}`)); err == nil {
			t.Errorf("%s: signed %s", name, tok)
		}
	}
	// What it signs, go-jose verifies with the public key alone.
	tok, err := compactSign(ES256, "k1", "at+jwt", ec, []byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := jws.Verify(&ec.PublicKey); err != nil || string(p) != `{"sub":"x"}` {
		t.Fatalf("go-jose verify: %q, %v", p, err)
	}
	if h := jws.Signatures[0].Protected; h.KeyID != "k1" || h.ExtraHeaders["typ"] != "at+jwt" {
		t.Errorf("header %+v", h)
	}
}
