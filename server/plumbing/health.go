package plumbing

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"idp/keys"
)

// Pinger is the one thing /readyz needs of the database.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Healthz answers while the process is up, whatever the database.
func Healthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// Readyz answers 200 only when the database answers and every algorithm
// has an active signing key, so a load balancer sends no traffic to a
// replica that could not sign.
func Readyz(database Pinger, km *keys.Manager, log *slog.Logger) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := database.Ping(ctx); err != nil {
			log.Warn("not ready: database", "error", err.Error())
			return c.String(http.StatusServiceUnavailable, "database unreachable\n")
		}
		if err := km.Ready(ctx); err != nil {
			log.Warn("not ready: signing keys", "error", err.Error())
			return c.String(http.StatusServiceUnavailable, "signing keys not loaded\n")
		}
		return c.String(http.StatusOK, "ready\n")
	}
}
