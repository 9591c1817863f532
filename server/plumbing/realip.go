package plumbing

import (
	"net"

	"github.com/labstack/echo/v4"
)

// IPExtractor decides what c.RealIP() returns. Echo's default believes
// X-Forwarded-For from anyone; here it is believed only when the peer, and
// each hop walked back from it, is a trusted proxy, and the nearest address
// that is not one is the client. Loopback and private networks get no
// implicit trust: only what the operator listed.
func IPExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
