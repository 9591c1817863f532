// Package dpoptest makes DPoP proofs (RFC 9449) for tests: a client's key
// pair and the proofs it signs, plus hand-built bad ones (alg none, HMAC,
// a private key in the header). It imports only idp/dpop.
package dpoptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"idp/dpop"
)

// Key is a client's DPoP key pair.
type Key struct {
	// Private signs the proofs; JWK is its public half, JKT its thumbprint.
	Private crypto.Signer
	JWK     jose.JSONWebKey
	JKT     string
	alg     jose.SignatureAlgorithm
}

// NewKey returns a fresh P-256 key (ES256).
func NewKey(t testing.TB) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return FromSigner(t, priv, jose.ES256)
}

// FromSigner wraps an existing private key for alg.
func FromSigner(t testing.TB, priv crypto.Signer, alg jose.SignatureAlgorithm) *Key {
	t.Helper()
	pub := jose.JSONWebKey{Key: priv.Public()}
	jkt, err := dpop.Thumbprint(&pub)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Private: priv, JWK: pub, JKT: jkt, alg: alg}
}

// Opts are a proof's optional parts; the zero value is a fresh proof
// without ath or nonce.
type Opts struct {
	// AccessToken, when set, puts its ath in the proof.
	AccessToken string
	// Nonce is the server nonce to include.
	Nonce string
	// IAT is the issue time; zero means now.
	IAT time.Time
	// JTI is the proof's id; empty means a random one.
	JTI string
}

// Claims returns the claims of a proof for htm and htu.
func Claims(htm, htu string, o Opts) map[string]any {
	iat := o.IAT
	if iat.IsZero() {
		iat = time.Now()
	}
	jti := o.JTI
	if jti == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		jti = base64.RawURLEncoding.EncodeToString(b)
	}
	c := map[string]any{"jti": jti, "htm": htm, "htu": htu, "iat": iat.Unix()}
	if o.AccessToken != "" {
		sum := sha256.Sum256([]byte(o.AccessToken))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if o.Nonce != "" {
		c["nonce"] = o.Nonce
	}
	return c
}

// Proof signs a proof for a request with method htm to htu.
func (k *Key) Proof(t testing.TB, htm, htu string, o Opts) string {
	t.Helper()
	return k.Sign(t, Claims(htm, htu, o))
}

// Sign signs arbitrary claims as a proof, with typ dpop+jwt and the public
// key embedded.
func (k *Key) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.Private}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Raw builds a compact JWS from a header and claims by hand, signed with
// sign over the signing input (nil: an empty signature), for proofs no
// honest library would make.
func Raw(header, claims map[string]any, sign func(input []byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

// HS256 signs with an HMAC key, as a forger hoping for alg confusion would.
func HS256(key []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(input)
		return m.Sum(nil)
	}
}

// PrivateJWK returns the key's JWK with its private part, as a careless
// client might put in the header.
func (k *Key) PrivateJWK(t testing.TB) map[string]any {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKey{Key: k.Private})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// PublicJWK returns the key's public JWK as a map, for Raw headers.
func (k *Key) PublicJWK(t testing.TB) map[string]any {
	t.Helper()
	raw, err := json.Marshal(k.JWK)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
