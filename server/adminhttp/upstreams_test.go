package adminhttp

import (
	"errors"
	"testing"

	"idp/admin"
	"idp/templates"
	"idp/upstreams"
)

// TestUpstreamUpdateOfMapping: the edit form's mapping is parsed once;
// the Update names every field (left out: the default), roles only when
// typed, and reads back as what was typed; a mapping that does not parse
// is *admin.InvalidError without the package prefix.
func TestUpstreamUpdateOfMapping(t *testing.T) {
	for typed, want := range map[string]string{
		"":                        "sub=,email=,email_verified=,name=",
		" sub = uid , name=shown": "sub=uid,email=,email_verified=,name=shown",
		"roles=groups,email=mail": "sub=,email=mail,email_verified=,name=,roles=groups",
	} {
		up, err := upstreamUpdateOf(templates.AdminUpstreamForm{ClaimMapping: typed})
		if err != nil || up.Mapping == nil || *up.Mapping != want {
			t.Errorf("%q: %v %v, want %q", typed, up.Mapping, err, want)
			continue
		}
		back, err := upstreams.ParseClaimMapping(*up.Mapping)
		typedFields, _ := upstreams.ParseClaimMapping(typed)
		for f, claim := range typedFields {
			if err != nil || back[f] != claim {
				t.Errorf("%q: %s reads back as %q (%v)", typed, f, back[f], err)
			}
		}
	}
	_, err := upstreamUpdateOf(templates.AdminUpstreamForm{ClaimMapping: "nick=x"})
	var invalid *admin.InvalidError
	if !errors.As(err, &invalid) || invalid.Reason != `claim mapping field "nick" is not one of sub, email, email_verified, name, roles` {
		t.Fatalf("bad mapping: %v", err)
	}
}
