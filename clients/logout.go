package clients

import (
	"fmt"
	"strings"
)

// Logout is how a client is told that an SSO session it obtained tokens
// in has ended: OpenID Connect Back-Channel Logout 1.0 §2.2 (idp POSTs a
// logout token to BackchannelLogoutURI) and Front-Channel Logout 1.0 §2
// (the signed-out page loads FrontchannelLogoutURI in an iframe). Empty
// URIs: the client is not told that way.
type Logout struct {
	// BackchannelLogoutURI receives the logout token (an absolute https
	// URL, http only on a loopback host, without a fragment).
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired asks for sid in the logout token;
	// idp always includes it.
	BackchannelLogoutSessionRequired bool
	// FrontchannelLogoutURI is rendered in an iframe on the signed-out
	// page (same rules as BackchannelLogoutURI; a query is kept).
	FrontchannelLogoutURI string
	// FrontchannelLogoutSessionRequired adds iss and sid to the iframe's
	// query (Front-Channel Logout 1.0 §2).
	FrontchannelLogoutSessionRequired bool
}

// ValidateLogoutURI checks a back- or front-channel logout URI: an
// absolute https URL with a host (http on localhost, 127.0.0.1 or [::1]
// for development, as redirect URIs), no userinfo and no fragment
// (Back-Channel Logout 1.0 §2.2, Front-Channel Logout 1.0 §2).
func ValidateLogoutURI(what, u string) error {
	if strings.Contains(u, "#") {
		return fmt.Errorf("%s %q must not contain a fragment", what, u)
	}
	return validateLink(what, u)
}

// check returns every problem of l.
func (l Logout) check() []error {
	var errs []error
	for _, f := range []struct{ what, u string }{
		{"backchannel_logout_uri", l.BackchannelLogoutURI}, {"frontchannel_logout_uri", l.FrontchannelLogoutURI},
	} {
		if f.u == "" {
			continue
		}
		if err := ValidateLogoutURI(f.what, f.u); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
