package plumbing

import (
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// frontChannelKey holds, in the Echo context, the front-channel logout
// URIs of the session a handler is ending.
const frontChannelKey = "idp.frontchannel"

// NoteEnding looks up the front-channel logout URIs of session sid,
// which the handler is about to end (after the end, nothing records which
// clients were in it), for the signed-out page to load (OpenID Connect
// Front-Channel Logout 1.0 §4). A failed lookup is logged: the sign-out
// itself must go on.
func (s *Site) NoteEnding(c echo.Context, sid string) {
	if s.FrontChannel == nil || sid == "" {
		return
	}
	uris, err := s.FrontChannel(c.Request().Context(), sid)
	if err != nil {
		s.Log.Error("front-channel logout lookup", "request_id", RequestIDOf(c), "error", err.Error())
		return
	}
	if len(uris) > 0 {
		c.Set(frontChannelKey, uris)
	}
}

// FrontChannelNoted reports whether NoteEnding found URIs to load: then
// the signed-out page is shown even when the user would go straight back
// to the client.
func FrontChannelNoted(c echo.Context) bool { return len(frontChannelOf(c)) > 0 }

// frontChannelOf returns what NoteEnding found.
func frontChannelOf(c echo.Context) []string {
	uris, _ := c.Get(frontChannelKey).([]string)
	return uris
}

// withFrames adds to csp a frame-src of exactly the origins of frames
// (none: csp unchanged, and default-src 'none' frames nothing).
func withFrames(csp string, frames []string) string {
	var origins []string
	for _, f := range frames {
		if o := Origin(f); o != "" && !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	if len(origins) == 0 {
		return csp
	}
	return csp + "; frame-src " + strings.Join(origins, " ")
}
