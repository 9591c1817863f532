package dpop

import (
	"net"
	"net/url"
	"strings"
)

// SameURI reports whether a proof's htu names the request's target URI
// (RFC 9449 §4.3 step 9): query and fragment ignored, and compared after
// RFC 3986 §6.2.2–6.2.3 normalisation — scheme and host case-insensitive,
// the default port implied, an empty path the same as "/". Both must be
// absolute http(s) URIs.
func SameURI(htu, target string) bool {
	a, ok := normalURI(htu)
	if !ok {
		return false
	}
	b, ok := normalURI(target)
	return ok && a == b
}

// normalURI returns scheme://host[:port]/path in normal form.
func normalURI(raw string) (string, bool) {
	if raw == "" || len(raw) > 2048 {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Host == "" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"): // an IPv6 literal keeps its brackets
		host = "[" + host + "]"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}
