package protocol

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/keys"
)

// JWKS serves the public signing keys (RFC 7517) from bytes the key
// manager rebuilds only when the key set changes: a strong ETag answers
// revalidations with 304, and gzip is served precompressed. Every header
// value is prebuilt, so a fetch allocates next to nothing.
func (h *Handlers) JWKS(c echo.Context) error {
	set, err := h.keys.JWKS(c.Request().Context())
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	hdr := h.jwksHeaders(set)
	rh := c.Response().Header()
	rh["Cache-Control"] = hdr.cacheControl
	rh["Etag"] = hdr.etag
	rh["Vary"] = hdrVaryEncoding
	req := c.Request().Header
	if inm := req["If-None-Match"]; len(inm) > 0 && etagMatches(inm[0], set.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	body := set.JSON
	if ae := req["Accept-Encoding"]; len(ae) > 0 && acceptsGzip(ae[0]) && len(set.Gzip) > 0 {
		rh["Content-Encoding"] = hdrGzip
		body = set.Gzip
	}
	return writeJSONBytes(c, body)
}

var (
	hdrVaryEncoding = []string{"Accept-Encoding"}
	hdrGzip         = []string{"gzip"}
	hdrJSON         = []string{"application/json"}
)

// jwksHeader holds the header values of one key set.
type jwksHeader struct {
	set          *keys.JWKS
	etag         []string
	cacheControl []string
}

// jwksHeaders returns the prebuilt header values for set, rebuilt only when
// the key manager hands out a new set.
func (h *Handlers) jwksHeaders(set *keys.JWKS) *jwksHeader {
	if jh := h.jwksHdr.Load(); jh != nil && jh.set == set {
		return jh
	}
	jh := &jwksHeader{set: set, etag: []string{set.ETag},
		cacheControl: []string{"public, max-age=" + strconv.Itoa(int(h.cfg.JWKSMaxAge.Seconds()))}}
	h.jwksHdr.Store(jh)
	return jh
}

// writeJSONBytes answers 200 with prebuilt JSON bytes. Content-Length is
// set here: net/http adds it itself only for bodies under its 2 KiB
// buffer, and a HEAD (RFC 9110 §9.3.2) must say what the GET would send.
func writeJSONBytes(c echo.Context, body []byte) error {
	r := c.Response()
	r.Header()["Content-Type"] = hdrJSON
	r.Header().Set("Content-Length", strconv.Itoa(len(body)))
	r.WriteHeader(http.StatusOK)
	_, err := r.Write(body)
	return err
}

// etagMatches implements If-None-Match (RFC 9110 §13.1.2): "*" or any
// listed tag, compared weakly as that section requires.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q > 0).
func acceptsGzip(header string) bool {
	for rest := header; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if name = strings.TrimSpace(name); strings.EqualFold(name, "gzip") || name == "*" {
			return !zeroQ(params)
		}
	}
	return false
}

// zeroQ reports whether media-type parameters say q=0 (RFC 9110 §12.4.2).
func zeroQ(params string) bool {
	q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
	return q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000"
}
