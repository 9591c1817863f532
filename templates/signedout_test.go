package templates

import (
	"strings"
	"testing"
)

// TestSignedOutFrontChannel: each front-channel logout URI is a hidden
// iframe (escaped; a javascript: URI is neutralised), and Continue
// replaces the sign-in link with the way back to the client.
func TestSignedOutFrontChannel(t *testing.T) {
	s := defaultSet(t)
	out := render(t, s, pages()[3], SignedOutPage{FrontChannel: []string{"https://rp.example/fcl?iss=x&sid=y", "javascript:alert(1)"},
		Continue: "https://rp.example/bye?state=s"})
	if !strings.Contains(out, `<iframe class="frontchannel-logout" src="https://rp.example/fcl?iss=x&amp;sid=y" hidden`) {
		t.Errorf("no iframe for the front-channel URI:\n%s", out)
	}
	if strings.Contains(out, "javascript:") || !strings.Contains(out, `src="#ZgotmplZ"`) {
		t.Error("a javascript: front-channel URI was rendered as is")
	}
	if !strings.Contains(out, `href="https://rp.example/bye?state=s">Continue to the application</a>`) || strings.Contains(out, "Sign in again") {
		t.Errorf("Continue not offered instead of signing in again:\n%s", out)
	}
}
