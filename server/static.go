package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// static serves the stylesheet and other assets embedded in templates.
func (s *Server) handleStatic() echo.HandlerFunc {
	fs := http.StripPrefix("/static/", http.FileServer(http.FS(s.deps.Templates.Static())))
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		fs.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
