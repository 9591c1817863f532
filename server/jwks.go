package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// handleJWKS serves the public signing keys (RFC 7517) from bytes the key
// manager rebuilds only when the key set changes: a strong ETag answers
// revalidations with 304, and gzip is served precompressed.
func (s *Server) handleJWKS(c echo.Context) error {
	set, err := s.deps.Keys.JWKS(c.Request().Context())
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(s.cfg.JWKSMaxAge.Seconds())))
	h.Set("ETag", set.ETag)
	h.Add("Vary", "Accept-Encoding")
	if etagMatches(c.Request().Header.Get("If-None-Match"), set.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	if acceptsGzip(c.Request().Header.Get("Accept-Encoding")) && len(set.Gzip) > 0 {
		h.Set("Content-Encoding", "gzip")
		return c.Blob(http.StatusOK, "application/json", set.Gzip)
	}
	return c.Blob(http.StatusOK, "application/json", set.JSON)
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
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") || strings.TrimSpace(name) == "*" {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
