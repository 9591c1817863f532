// Package mfatest is a software WebAuthn authenticator for tests: it
// answers the options mfa.Service hands a browser with real, verifiable
// responses (attestation format "none", ES256 keys), and can be told to
// answer wrongly in the ways an attacker or a broken device would.
package mfatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator holds discoverable credentials for one relying party id.
type Authenticator struct {
	// RPID and Origin are what the authenticator and the browser would
	// put in their answers; tests change them to forge.
	RPID, Origin string
	// UV sets the user-verified flag; BE the backup-eligible flag (a
	// synced passkey).
	UV, BE bool
	// AAGUID names the authenticator model.
	AAGUID [16]byte
	creds  []*Credential
}

// Credential is one key pair held by the authenticator.
type Credential struct {
	ID         []byte
	UserHandle []byte
	Key        *ecdsa.PrivateKey
	// Count is the signature counter; tests lower it to play a clone.
	Count uint32
}

// New returns an authenticator for rpID answering from origin, verifying
// its user.
func New(rpID, origin string) *Authenticator {
	return &Authenticator{RPID: rpID, Origin: origin, UV: true, AAGUID: [16]byte{0xad, 0xce, 0x00, 0x02}}
}

// Credentials returns the credentials made so far, oldest first.
func (a *Authenticator) Credentials() []*Credential { return a.creds }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// creationOptions is the part of navigator.credentials.create options the
// authenticator reads.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

// requestOptions is the part of navigator.credentials.get options it reads.
type requestOptions struct {
	PublicKey struct {
		Challenge        string `json:"challenge"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

// Create answers registration options with a new credential.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("mfatest: creation options: %w", err)
	}
	user, err := unb64(o.PublicKey.User.ID)
	if err != nil {
		return nil, fmt.Errorf("mfatest: user id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	c := &Credential{ID: id, UserHandle: user, Key: key}
	a.creds = append(a.creds, c)
	cose, err := coseKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	attested := append(append(append(a.AAGUID[:0:0], a.AAGUID[:]...), byte(len(id)>>8), byte(len(id))), id...)
	auth := append(a.authData(0x40, c.Count), append(attested, cose...)...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, err
	}
	client := a.clientData("webauthn.create", o.PublicKey.Challenge)
	return json.Marshal(map[string]any{
		"id": b64(id), "rawId": b64(id), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(client), "attestationObject": b64(att), "transports": []string{"internal"}},
	})
}

// Get answers assertion options with the first credential allowed (any,
// for a discoverable request), signing with its counter raised by one.
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("mfatest: request options: %w", err)
	}
	var c *Credential
	for _, cand := range a.creds {
		if len(o.PublicKey.AllowCredentials) == 0 {
			c = cand
			break
		}
		for _, allowed := range o.PublicKey.AllowCredentials {
			if allowed.ID == b64(cand.ID) {
				c = cand
			}
		}
		if c != nil {
			break
		}
	}
	if c == nil {
		return nil, errors.New("mfatest: no credential for these options")
	}
	return a.Sign(c, o.PublicKey.Challenge)
}

// Sign makes an assertion with c over challenge (base64url).
func (a *Authenticator) Sign(c *Credential, challenge string) ([]byte, error) {
	c.Count++
	auth := a.authData(0, c.Count)
	client := a.clientData("webauthn.get", challenge)
	sum := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, auth...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(c.ID), "rawId": b64(c.ID), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(client), "authenticatorData": b64(auth),
			"signature": b64(sig), "userHandle": b64(c.UserHandle)},
	})
}

// authData is the RP id hash, the flags (UP always, UV, BE as set, plus
// extra) and the counter.
func (a *Authenticator) authData(extra byte, count uint32) []byte {
	h := sha256.Sum256([]byte(a.RPID))
	flags := byte(0x01) | extra
	if a.UV {
		flags |= 0x04
	}
	if a.BE {
		flags |= 0x08
	}
	out := append(h[:], flags, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(out[33:], count)
	return out
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// coseKey encodes an ES256 public key (RFC 9053 §7.1.1).
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, err
	}
	return cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
}
