package main

import (
	"strconv"
	"time"
)

// The DPoP settings (RFC 9449) of serve.
var (
	sDPoPNonce  = setting{flag: "dpop-nonce", env: "IDP_DPOP_NONCE", def: "false", boolean: true, usage: "every DPoP proof at the token endpoint and UserInfo must carry a server nonce (answered use_dpop_nonce with a DPoP-Nonce header first); costs clients a round trip, limits pre-made proofs"}
	sDPoPWindow = setting{flag: "dpop-proof-window", env: "IDP_DPOP_PROOF_WINDOW", def: "60s", usage: "how far a DPoP proof's iat may be from idp's clock, either way (1s to 10m)"}
)

// dpop validates the DPoP settings into c.
func (p *problems) dpop(s *settings, c *Config) {
	if s.has("dpop-nonce") {
		on, err := strconv.ParseBool(s.get("dpop-nonce").value)
		if err != nil {
			p.add("--dpop-nonce must be true or false, not %q", s.get("dpop-nonce").value)
		}
		c.DPoPNonce = on
	}
	if s.has("dpop-proof-window") {
		c.DPoPWindow = p.duration(s.get("dpop-proof-window"), time.Second, 10*time.Minute)
	}
}
