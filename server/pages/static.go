package pages

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Static serves the stylesheet and other assets embedded in templates.
func (h *Handlers) Static() echo.HandlerFunc {
	fs := http.StripPrefix("/static/", http.FileServer(http.FS(h.site.Templates.Static())))
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		fs.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
