package clients

import (
	"net/netip"
	"strconv"
	"strings"
)

// splitLoopback splits a loopback IP redirect URI (RFC 8252 §7.3) into its
// scheme-and-host prefix ("http://127.0.0.1", "http://[::1]") and what
// follows the port (path and query). It works on the raw string so that
// everything but the port still has to match byte for byte. A port, if
// present, must be 1-65535 in decimal; anything after the host other than
// a port, path or query (e.g. "@evil.example" or ".evil.example") is not a
// loopback URI.
func splitLoopback(u string) (host, rest string, ok bool) {
	after, found := strings.CutPrefix(u, "http://")
	if !found {
		return "", "", false
	}
	if v6, found := strings.CutPrefix(after, "[::1]"); found {
		host, after = "[::1]", v6
	} else {
		end := strings.IndexAny(after, ":/?")
		if end < 0 {
			end = len(after)
		}
		host, after = after[:end], after[end:]
		if !isLoopbackIPv4(host) {
			return "", "", false
		}
	}
	if port, found := strings.CutPrefix(after, ":"); found {
		end := strings.IndexAny(port, "/?")
		if end < 0 {
			end = len(port)
		}
		if !validPort(port[:end]) {
			return "", "", false
		}
		after = port[end:]
	}
	if after != "" && after[0] != '/' && after[0] != '?' {
		return "", "", false
	}
	return "http://" + host, after, true
}

// isLoopbackIPv4 reports whether h is an address of 127.0.0.0/8 (RFC 1122
// §3.2.1.3) written in canonical dotted decimal: four decimal octets with
// no leading zeros. Other spellings that some resolvers read as loopback,
// "127.1", "0x7f.0.0.1", "0177.0.0.1", are refused: a redirect URI is
// compared as a string, and what the browser makes of an odd spelling is
// not what idp checked.
func isLoopbackIPv4(h string) bool {
	a, err := netip.ParseAddr(h)
	return err == nil && a.Is4() && a.As4()[0] == 127 && a.String() == h
}

// isLoopbackHost reports whether h (brackets already stripped) names the
// local machine: "localhost" (case-insensitive, RFC 3986 §3.2.2), an
// address of 127.0.0.0/8 in canonical form, or "::1" as written. IPv4-mapped
// IPv6 ("::ffff:127.0.0.1") and other spellings of ::1 are refused;
// RFC 8252 §7.3 names only the plain literals.
func isLoopbackHost(h string) bool {
	return strings.EqualFold(h, "localhost") || h == "::1" || isLoopbackIPv4(h)
}

// validPort reports whether p is a decimal TCP port, 1-65535, digits only.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
