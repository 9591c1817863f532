package adminhttp

import (
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"idp/templates"
)

// AuditPage shows the audit log, newest first, a hundred events a page.
func (h *Handlers) AuditPage(c echo.Context) error {
	var before time.Time
	if b := c.QueryParam("before"); b != "" {
		before, _ = time.Parse(time.RFC3339Nano, b)
	}
	events, err := h.admin.Audit(c.Request().Context(), before, 100)
	if err != nil {
		return err
	}
	page := templates.AdminAuditPage{AdminBase: h.adminBase(c, "audit", "Audit log")}
	for _, e := range events {
		page.Events = append(page.Events, templates.AdminAuditEvent{At: e.At.Format("2006-01-02 15:04:05 UTC"),
			Actor: e.Actor, Action: e.Action, Target: e.Target, Via: e.Via, IP: e.IP, Detail: e.Detail})
	}
	if len(events) == 100 {
		page.NextBefore = events[len(events)-1].At.Format(time.RFC3339Nano)
	}
	return h.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return h.site.Templates.AdminAudit(w, page) })
}
