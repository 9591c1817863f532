package main

import (
	"flag"
	"strconv"
)

// sRequirePAR is the pushed authorization requests setting (RFC 9126,
// issue #17).
var sRequirePAR = setting{flag: "require-par", env: "IDP_REQUIRE_PAR", def: "false", boolean: true,
	usage: "every authorization request must be pushed to the PAR endpoint first (RFC 9126); discovery says require_pushed_authorization_requests"}

// par validates --require-par into c.
func (p *problems) par(s *settings, c *Config) {
	if !s.has("require-par") {
		return
	}
	v := s.get("require-par").value
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.add("--require-par must be true or false, not %q", v)
	}
	c.RequirePAR = b
}

// boolSwitch registers a setting's flag as a switch (--name alone means
// true, --name=false is allowed) that keeps its text, like fs.String, so
// the setting resolves flag > env > default as every other does.
func boolSwitch(fs *flag.FlagSet, name, usage string) *string {
	v := new(string)
	fs.Var(switchValue{v}, name, usage)
	return v
}

// switchValue is a flag.Value whose IsBoolFlag lets it stand alone.
type switchValue struct{ v *string }

func (s switchValue) String() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

func (s switchValue) Set(v string) error { *s.v = v; return nil }

func (s switchValue) IsBoolFlag() bool { return true }
