package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// handleHealthz answers while the process is up, whatever the database.
func (s *Server) handleHealthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// handleReadyz answers 200 only when the database answers and every
// algorithm has an active signing key, so a load balancer sends no traffic
// to a replica that could not sign.
func (s *Server) handleReadyz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.DB.Ping(ctx); err != nil {
		s.log.Warn("not ready: database", "error", err.Error())
		return c.String(http.StatusServiceUnavailable, "database unreachable\n")
	}
	if err := s.deps.Keys.Ready(ctx); err != nil {
		s.log.Warn("not ready: signing keys", "error", err.Error())
		return c.String(http.StatusServiceUnavailable, "signing keys not loaded\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
