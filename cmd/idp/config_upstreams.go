package main

import "strconv"

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
