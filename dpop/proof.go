package dpop

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// HeaderName is the request header that carries a proof (RFC 9449 §4.1);
// NonceHeader the response header that carries a server nonce (§8.1).
const (
	HeaderName  = "DPoP"
	NonceHeader = "DPoP-Nonce"
)

// DefaultWindow is how far a proof's iat may be from the verifier's clock,
// either way, when Request.Window is zero (RFC 9449 §11.1 leaves it to the
// server; a minute absorbs ordinary clock skew and network delay).
const DefaultWindow = 60 * time.Second

// maxProofSize bounds what is decoded at all: a proof with a 4096-bit RSA
// key in its header is under 2 KB.
const maxProofSize = 8 << 10

// minRSABits refuses RSA keys too weak to prove anything (RFC 7518 §3.3).
const minRSABits = 2048

// Algs are the signature algorithms a proof may use (RFC 9449 §4.3 step
// 5): asymmetric only, never none or HMAC, whose "key" would have to be
// shared.
var Algs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

// AlgNames returns Algs as strings, for discovery's
// dpop_signing_alg_values_supported and the algs of a WWW-Authenticate
// challenge (RFC 9449 §5.1, §7.1).
func AlgNames() []string {
	out := make([]string, len(Algs))
	for i, a := range Algs {
		out[i] = string(a)
	}
	return out
}

// Request is what a proof must match: the HTTP request it arrived with.
type Request struct {
	// Method is the request's method; htm must equal it.
	Method string
	// URL is the request's target URI as the client addressed it (for
	// idp, the issuer's URL of the endpoint, not the Host header's);
	// htu must equal it, query and fragment ignored (RFC 9449 §4.3).
	URL string
	// AccessToken is the access token presented with the proof, if any:
	// ath must then be its SHA-256 (RFC 9449 §4.3 step 11).
	AccessToken string
	// Now is the verifier's clock reading.
	Now time.Time
	// Window bounds |iat - Now|; 0 means DefaultWindow.
	Window time.Duration
	// Nonce, when set, says the server requires a nonce (RFC 9449 §8) and
	// reports whether the proof's is acceptable; a missing or stale one is
	// ErrUseNonce.
	Nonce func(nonce string) bool
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the base64url SHA-256 thumbprint of the proof's public key
	// (RFC 7638): what a bound token's cnf.jkt holds.
	JKT string
	// JTI is the proof's unique id.
	JTI string
	// IssuedAt is iat.
	IssuedAt time.Time
	// Until is when a replay cache may forget JTI: after it, the proof is
	// refused as stale anyway (iat + window).
	Until time.Time
	// Key is the proof's public key.
	Key jose.JSONWebKey
}

// ReplayKey is what a replay cache stores for the proof: a hash of its key
// thumbprint and jti, so two clients choosing the same jti do not collide
// and the cache holds nothing a client sent verbatim.
func (p *Proof) ReplayKey() string {
	sum := sha256.Sum256([]byte(p.JKT + "\x00" + p.JTI))
	return hex.EncodeToString(sum[:])
}

// header is the JOSE header as sent, read before go-jose parses it, to
// refuse what must never be trusted with a clear reason.
type header struct {
	Typ string          `json:"typ"`
	Alg string          `json:"alg"`
	JWK json.RawMessage `json:"jwk"`
}

// claims are the proof's claims (RFC 9449 §4.2).
type claims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   string   `json:"ath"`
	Nonce string   `json:"nonce"`
}

// Verify checks one proof against its request, as RFC 9449 §4.3 lists:
// a single well-formed JWS; typ dpop+jwt; an allowed asymmetric alg; a
// public jwk that verifies the signature; jti, htm, htu and a fresh iat;
// ath when an access token comes with it; the nonce when one is required.
// Replay (step 12) is the caller's, with Proof.ReplayKey and Until.
func Verify(raw string, req Request) (*Proof, error) {
	key, payload, err := parse(raw)
	if err != nil {
		return nil, err
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	window := req.Window
	if window <= 0 {
		window = DefaultWindow
	}
	iat, err := c.check(req, window)
	if err != nil {
		return nil, err
	}
	if req.Nonce != nil && (c.Nonce == "" || !req.Nonce(c.Nonce)) {
		return nil, ErrUseNonce
	}
	jkt, err := Thumbprint(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &Proof{JKT: jkt, JTI: c.JTI, IssuedAt: iat, Until: iat.Add(window), Key: *key}, nil
}

// parse checks the header and the signature and returns the key and the
// payload.
func parse(raw string) (*jose.JSONWebKey, []byte, error) {
	if raw == "" || len(raw) > maxProofSize || strings.Count(raw, ".") != 2 {
		return nil, nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	seg, _, _ := strings.Cut(raw, ".")
	hb, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header encoding", ErrMalformed)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if !strings.EqualFold(h.Typ, "dpop+jwt") {
		return nil, nil, fmt.Errorf("%w: typ %q", ErrType, h.Typ)
	}
	if !allowed(h.Alg) {
		return nil, nil, fmt.Errorf("%w: alg %q", ErrAlgorithm, h.Alg)
	}
	if err := publicOnly(h.JWK); err != nil {
		return nil, nil, err
	}
	jws, err := jose.ParseSignedCompact(raw, Algs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	key := jws.Signatures[0].Protected.JSONWebKey
	if key == nil || !key.Valid() || !key.IsPublic() {
		return nil, nil, fmt.Errorf("%w: no valid public jwk", ErrKey)
	}
	if rk, ok := key.Key.(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
		return nil, nil, fmt.Errorf("%w: RSA key of %d bits", ErrKey, rk.N.BitLen())
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return key, payload, nil
}

// allowed reports whether alg is in Algs.
func allowed(alg string) bool {
	for _, a := range Algs {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// publicOnly refuses a jwk header that is absent, symmetric (k) or holds
// private material (d, p, q…): RFC 9449 §4.3 step 7.
func publicOnly(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return fmt.Errorf("%w: no jwk in the header", ErrKey)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%w: jwk is not an object", ErrKey)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[private]; ok {
			return fmt.Errorf("%w: jwk holds private or symmetric key material", ErrKey)
		}
	}
	return nil
}

// check compares the claims with the request and returns iat.
func (c *claims) check(req Request, window time.Duration) (time.Time, error) {
	switch {
	case c.JTI == "" || len(c.JTI) > 512:
		return time.Time{}, fmt.Errorf("%w: jti missing or too long", ErrMalformed)
	case c.HTM != req.Method:
		return time.Time{}, fmt.Errorf("%w: htm %q, request %s", ErrMethod, c.HTM, req.Method)
	case !SameURI(c.HTU, req.URL):
		return time.Time{}, fmt.Errorf("%w: htu %q", ErrURI, c.HTU)
	case c.IAT == nil || *c.IAT < 0 || *c.IAT > 1<<40:
		return time.Time{}, fmt.Errorf("%w: iat missing", ErrMalformed)
	}
	iat := time.Unix(int64(*c.IAT), 0).UTC()
	if d := req.Now.Sub(iat); d > window || d < -window {
		return time.Time{}, fmt.Errorf("%w: iat %s", ErrStale, iat.Format(time.RFC3339))
	}
	if req.AccessToken != "" {
		sum := sha256.Sum256([]byte(req.AccessToken))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(c.ATH), []byte(want)) != 1 {
			return time.Time{}, fmt.Errorf("%w: ath does not match the access token", ErrAccessTokenHash)
		}
	}
	return iat, nil
}

// Thumbprint is the JWK SHA-256 thumbprint of a public key, base64url
// without padding (RFC 7638 §3; RFC 9449 §6.1's jkt).
func Thumbprint(k *jose.JSONWebKey) (string, error) {
	pub := k.Public()
	if !pub.Valid() {
		return "", errors.New("no public key")
	}
	sum, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
