package server

import (
	"crypto/hmac"
	"crypto/sha256"

	"idp/dpop"
	"idp/server/protocol"
)

// dpopConfig turns the server's DPoP settings into the protocol's. Without
// a nonce key (a server built without app's wiring) one is derived from
// the CSRF key, which replicas share as well.
func dpopConfig(cfg Config) protocol.DPoPConfig {
	key := cfg.DPoPNonceKey
	if len(key) == 0 {
		m := hmac.New(sha256.New, cfg.CSRFKey)
		m.Write([]byte("dpop-nonce"))
		key = m.Sum(nil)
	}
	return protocol.DPoPConfig{Nonces: dpop.NewNonces(key, 0), RequireNonce: cfg.DPoPNonce, Window: cfg.DPoPWindow}
}
