package clients

import (
	"errors"
	"strings"
	"testing"
)

// TestLogoutURIs: back- and front-channel logout URIs follow the redirect
// URI rules (https, http only on loopback, no fragment) and round-trip
// through the store with their session_required flags.
func TestLogoutURIs(t *testing.T) {
	svc, _ := newService(t)
	for _, bad := range []Logout{
		{BackchannelLogoutURI: "http://rp.example.com/bcl"},
		{BackchannelLogoutURI: "https://rp.example.com/bcl#frag"},
		{BackchannelLogoutURI: "/bcl"},
		{BackchannelLogoutURI: "javascript:alert(1)"},
		{FrontchannelLogoutURI: "https://rp.example.com/fcl#"},
		{FrontchannelLogoutURI: "https://user:pw@rp.example.com/fcl"},
	} {
		_, _, err := svc.Create(t.Context(), Spec{ID: "bad", RedirectURIs: []string{goodRedirect}, Metadata: Metadata{Logout: bad}})
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "logout_uri") {
			t.Errorf("%+v: %v, want ErrInvalidSpec naming the URI", bad, err)
		}
	}
	want := Logout{BackchannelLogoutURI: "https://rp.example.com/bcl", BackchannelLogoutSessionRequired: true,
		FrontchannelLogoutURI: "http://127.0.0.1:8081/fcl?x=1", FrontchannelLogoutSessionRequired: true}
	if _, _, err := svc.Create(t.Context(), Spec{ID: "app", RedirectURIs: []string{goodRedirect}, Metadata: Metadata{Logout: want}}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Store().ByID(t.Context(), "app")
	if err != nil || got.Logout != want {
		t.Fatalf("read back %+v, %v; want %+v", got.Logout, err, want)
	}
	list, err := svc.Store().List(t.Context())
	if err != nil || len(list) != 1 || list[0].Logout != want {
		t.Fatalf("List: %+v, %v", list, err)
	}
}
