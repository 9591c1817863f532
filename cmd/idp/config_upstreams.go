package main

import (
	"strconv"
	"time"
)

// sPasswordLogin turns the password form off, for deployments where
// everybody signs in through an upstream provider (issue #18).
var sPasswordLogin = setting{flag: "password-login", env: "IDP_PASSWORD_LOGIN", def: "true", boolean: true,
	usage: "offer sign-in with email and password; false: only upstream providers (idp upstreams) and passkeys"}

// passwordLogin validates --password-login into c.
func (p *problems) passwordLogin(s *settings, c *Config) {
	if !s.has("password-login") {
		return
	}
	v := s.get("password-login").value
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.add("--password-login must be true or false, not %q", v)
	}
	c.NoPasswordLogin = !b
}

// sUpstreamCheck bounds how often a refresh of a family signed in through
// an upstream asks that upstream again (docs/federation.md, "Refresh
// checks the upstream").
var sUpstreamCheck = setting{flag: "upstream-check-interval", env: "IDP_UPSTREAM_CHECK_INTERVAL", def: "5m",
	usage: "how long an upstream provider's yes lasts before a refresh of tokens signed in through it asks again; 0s asks at every refresh"}

// upstreamCheck validates --upstream-check-interval into c: at most a
// day, so a person the upstream has dropped loses idp's tokens within it.
func (p *problems) upstreamCheck(s *settings, c *Config) {
	if s.has("upstream-check-interval") {
		c.UpstreamCheckInterval = p.duration(s.get("upstream-check-interval"), 0, 24*time.Hour)
	}
}
