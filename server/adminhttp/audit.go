package adminhttp

import (
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/server/plumbing"
	"idp/templates"
)

// localTime is how a datetime-local field writes a time (the page's times
// are UTC).
const localTime = "2006-01-02T15:04:05"

// AuditPage shows the audit log, newest first, a hundred events a page,
// filtered by actor, subject, kind and time, with a link to export the
// filtered events.
func (h *Handlers) AuditPage(c echo.Context) error {
	page := templates.AdminAuditPage{AdminBase: h.adminBase(c, "audit", "Audit log"), Actor: c.QueryParam("actor"),
		Subject: c.QueryParam("subject"), Kind: c.QueryParam("kind"), From: c.QueryParam("from"), To: c.QueryParam("to")}
	status := http.StatusOK
	q, err := auditQuery(c)
	var p admin.AuditPage
	if err == nil {
		p, err = h.admin.AuditEvents(c.Request().Context(), q)
	}
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		page.Error, status = "Not filtered: "+joinLines(err.Error())+".", http.StatusBadRequest
	case err != nil:
		return err
	}
	// The filters as given, in the form's own format, carried by every link.
	filters := url.Values{}
	for name, v := range map[string]string{"actor": q.Actor, "subject": q.Subject, "kind": q.Kind} {
		if v != "" {
			filters.Set(name, v)
		}
	}
	if !q.From.IsZero() {
		filters.Set("from", q.From.UTC().Format(localTime))
		page.From = filters.Get("from")
	}
	if !q.To.IsZero() {
		filters.Set("to", q.To.UTC().Format(localTime))
		page.To = filters.Get("to")
	}
	for _, e := range p.Events {
		page.Events = append(page.Events, templates.AdminAuditEvent{At: e.At.Format("2006-01-02 15:04:05 UTC"),
			Actor: e.Actor, Action: e.Action, Target: e.Target, Via: e.Via, IP: e.IP, Detail: e.Detail})
	}
	link := func(path, key, cursor string) string {
		v := url.Values{}
		for k, vs := range filters {
			v[k] = vs
		}
		if key != "" {
			v.Set(key, cursor)
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	}
	if p.Older != "" {
		page.OlderURL = link("/admin/audit", "older", p.Older)
	}
	if p.Newer != "" {
		page.NewerURL, page.NewestURL = link("/admin/audit", "newer", p.Newer), link("/admin/audit", "", "")
	}
	if len(p.Events) > 0 {
		page.ExportURL = link("/admin/audit/export", "", "")
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminAudit(w, page) })
}

// ExportAudit downloads the events the audit page's filters select as
// JSON lines (application/x-ndjson), the same lines as
// GET /api/admin/audit?format=jsonl.
func (h *Handlers) ExportAudit(c echo.Context) error {
	q, err := auditQuery(c)
	if err == nil {
		err = h.exportAudit(c, q, true)
	}
	if err != nil {
		return h.badFilter(err)
	}
	return nil
}

// badFilter is the page for filters that could not be read.
func (h *Handlers) badFilter(err error) error {
	var invalid *admin.InvalidError
	if errors.As(err, &invalid) {
		return &plumbing.PageError{Status: http.StatusBadRequest, Heading: "The filter is not valid",
			Message: joinLines(err.Error()) + "."}
	}
	return err
}
